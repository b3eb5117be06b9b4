# The flow tests need only the data plane; not linking baton_policy keeps them independent of it.
target_link_libraries(test_${area} PRIVATE baton_net)
