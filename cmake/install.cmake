# Install rules, in one place: the binary, the systemd unit, the sample configuration, the docs;
# and the Debian package (cpack -G DEB, from a build configured with CMAKE_INSTALL_PREFIX=/usr).

set(SYSCONF_DIR "${CMAKE_INSTALL_FULL_SYSCONFDIR}/synergy-tokend")

# The systemd unit directory: from systemd's pkg-config file, else Debian's.
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
    pkg_get_variable(SYSTEMD_UNIT_DIR systemd systemdsystemunitdir)
endif()
if(NOT SYSTEMD_UNIT_DIR)
    set(SYSTEMD_UNIT_DIR "/lib/systemd/system")
endif()
set(SYNERGY_TOKEND_UNIT_DIR "${SYSTEMD_UNIT_DIR}" CACHE PATH "Where the systemd unit is installed")

set(SYNERGY_TOKEND_UNITS synergy-tokend.service synergy-tokend-identity.path
    synergy-tokend-identity.service)
foreach(unit IN LISTS SYNERGY_TOKEND_UNITS)
    configure_file(systemd/${unit}.in systemd/${unit} @ONLY)
endforeach()

install(TARGETS synergy-tokend RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
list(TRANSFORM SYNERGY_TOKEND_UNITS PREPEND ${CMAKE_CURRENT_BINARY_DIR}/systemd/
     OUTPUT_VARIABLE unit_files)
install(FILES ${unit_files} DESTINATION ${SYNERGY_TOKEND_UNIT_DIR})
install(FILES README.md SECURITY.md DESTINATION ${CMAKE_INSTALL_DOCDIR} OPTIONAL)

# The sample configuration, never over an operator's edited one (the package marks it a
# conffile, so dpkg asks instead). file(INSTALL) adds DESTDIR itself; the check must add it.
install(CODE "
    set(dest \"\$ENV{DESTDIR}${SYSCONF_DIR}/config.json\")
    if(EXISTS \"\${dest}\")
        message(STATUS \"Keeping existing: \${dest}\")
    else()
        file(INSTALL \"${CMAKE_CURRENT_SOURCE_DIR}/etc/config.json\"
             DESTINATION \"${SYSCONF_DIR}\"
             PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
    endif()
")

set(CPACK_PACKAGE_NAME synergy-tokend)
set(CPACK_PACKAGE_VENDOR "synergy-tokend developers")
set(CPACK_PACKAGE_CONTACT "synergy-tokend developers <synergy-tokend@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "systemd")
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/debian/conffiles "${SYSCONF_DIR}/config.json\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${CMAKE_CURRENT_BINARY_DIR}/debian/conffiles)
set(CPACK_GENERATOR DEB)
include(CPack)
