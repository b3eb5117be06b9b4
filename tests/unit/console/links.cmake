# test_console: the console transport, and batonctl run as a program against a test server.
target_link_libraries(test_${area} PRIVATE baton_console baton_policy baton_net)
if(TARGET batonctl)
  add_dependencies(test_${area} batonctl)
  target_compile_definitions(test_${area} PRIVATE BATONCTL_PATH="$<TARGET_FILE:batonctl>")
endif()
