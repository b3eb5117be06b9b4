# Document 003's pieces that need no running kernel rules: the TSK wire form (actors/protocol,
# header-only), the SYN parser of net/pep and the pep policy section.
target_link_libraries(test_${area} PRIVATE baton_datapath)
