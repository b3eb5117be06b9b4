# Document 000's pieces: the live TCP hand-off (TCP_REPAIR, needs root) and the rim stage's table.
target_link_libraries(test_${area} PRIVATE baton_datapath)
