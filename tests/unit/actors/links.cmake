# Actors under CAF's deterministic test coordinator: the control plane (baton_actors) and the
# data path the cluster and SLR actors run over, with memory ports (no root, no sockets).
target_link_libraries(test_${area} PRIVATE baton_actors)
# baton_actors holds the TLS observer, which interposes libssl functions: they must be in the
# executable's dynamic symbols (as tests/unit/runtime/links.cmake says).
set_target_properties(test_${area} PROPERTIES ENABLE_EXPORTS ON)
