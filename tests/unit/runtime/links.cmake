target_link_libraries(test_${area} PRIVATE baton_actors)
# The TLS observer interposes libssl functions: they must be in the executable's dynamic symbols.
set_target_properties(test_${area} PROPERTIES ENABLE_EXPORTS ON)
