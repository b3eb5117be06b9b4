# The rim service's origin pieces (actors/rim/origin_*.cpp, chunk_cache.cpp) live in baton_actors.
target_link_libraries(test_${area} PRIVATE baton_actors)
