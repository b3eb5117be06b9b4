# Document 002's stages (net/replica) and the tag option: plain C++, tested with the data plane
# and the policy (the server gateway reads the rule matcher), without CAF.
target_link_libraries(test_${area} PRIVATE baton_datapath)
