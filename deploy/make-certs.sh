#!/usr/bin/env bash
# Makes a test CA and node certificates for baton's node-to-node TLS links.
#   deploy/make-certs.sh DIR [--ca NAME] NODE...
# Writes DIR/ca.pem, DIR/ca.key (created once per DIR and reused) and DIR/NODE.pem, DIR/NODE.key
# for each NODE (subject CN=NODE, signed by the CA, 825 days). EC P-256 keys.
# A second DIR gives a second, unrelated CA: nodes certified by it are refused by the first.
set -euo pipefail

usage() { sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
[ $# -ge 1 ] || usage 2
case "$1" in -h|--help) usage 0 ;; esac
dir=$1; shift
ca_name="baton test CA"
if [ "${1:-}" = "--ca" ]; then ca_name=$2; shift 2; fi
[ $# -ge 1 ] || { echo "make-certs: name at least one node" >&2; exit 2; }

mkdir -p "$dir"
umask 077
if [ ! -f "$dir/ca.pem" ]; then
  openssl ecparam -name prime256v1 -genkey -noout -out "$dir/ca.key"
  openssl req -x509 -new -key "$dir/ca.key" -sha256 -days 3650 -subj "/CN=$ca_name" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$dir/ca.pem"
fi
for node in "$@"; do
  openssl ecparam -name prime256v1 -genkey -noout -out "$dir/$node.key"
  openssl req -new -key "$dir/$node.key" -subj "/CN=$node" -out "$dir/$node.csr"
  printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n' \
    > "$dir/$node.ext"
  openssl x509 -req -in "$dir/$node.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
    -days 825 -sha256 -extfile "$dir/$node.ext" -out "$dir/$node.pem" 2>/dev/null
  rm -f "$dir/$node.csr" "$dir/$node.ext"
done
chmod 644 "$dir"/*.pem
echo "make-certs: CA and ${#} node certificate(s) in $dir"
