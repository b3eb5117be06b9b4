# The cluster's segment side (actors/cluster/cluster_stage.cpp, arp_speaker.cpp) is plain C++:
# built into the test with the data plane and the policy, without CAF.
target_sources(test_${area} PRIVATE ${CMAKE_SOURCE_DIR}/actors/cluster/cluster_stage.cpp
                                    ${CMAKE_SOURCE_DIR}/actors/cluster/arp_speaker.cpp)
target_link_libraries(test_${area} PRIVATE baton_policy baton_net)
