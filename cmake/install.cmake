# Install rules, in one place: the binary, the systemd unit and the sample configuration.
install(TARGETS synergy-tokend RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
