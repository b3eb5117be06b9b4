#pragma once
// The one error type of policy loading: where in the document (a JSON pointer, RFC 6901) and why.

#include <stdexcept>
#include <string>

namespace baton::policy {

/// Thrown by every load function for a policy that cannot be used.
/// what() is "pointer: reason", e.g. `/pep/rules/3/dst: "10.1.1.0/33" is not an IPv4 prefix`;
/// when the error is about the whole document (pointer() empty: unreadable file, JSON syntax) it
/// is the reason alone.
class policy_error : public std::runtime_error {
 public:
  policy_error(std::string pointer, std::string reason);

  /// The JSON pointer of the offending value ("" for the document as a whole).
  const std::string& pointer() const noexcept { return pointer_; }
  /// Why the value was refused, without the pointer.
  const std::string& reason() const noexcept { return reason_; }

 private:
  std::string pointer_;
  std::string reason_;
};

}  // namespace baton::policy
