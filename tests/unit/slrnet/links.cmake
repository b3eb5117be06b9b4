# The SLR data-path tests need only the data plane.
target_link_libraries(test_${area} PRIVATE baton_net)
