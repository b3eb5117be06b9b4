# Document 000's pieces: the live TCP hand-off (TCP_REPAIR, needs root), the rim stage's table and
# the management object (actors/rim, in baton_actors).
target_link_libraries(test_${area} PRIVATE baton_datapath baton_actors)
# baton_actors holds the TLS observer, which interposes libssl functions (tests/unit/runtime/links.cmake).
set_target_properties(test_${area} PROPERTIES ENABLE_EXPORTS ON)
