# The data-path stages that read the policy (net/classify, net/cluster) are plain C++: tested with
# the data plane and the policy, without CAF.
target_link_libraries(test_${area} PRIVATE baton_datapath)
