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

# The manual pages and the Debian changelog, compressed as Debian wants them (gzip -9n: no name,
# no time stamp, so the same source gives the same bytes).
find_program(GZIP_PROGRAM gzip REQUIRED)
set(compressed "")
foreach(pair IN ITEMS "man/synergy-tokend.8" "man/synergy-tokend.json.5" "packaging/changelog")
    get_filename_component(name ${pair} NAME)
    if(name STREQUAL "changelog")
        set(name changelog.Debian)
    endif()
    set(out ${CMAKE_CURRENT_BINARY_DIR}/compressed/${name}.gz)
    add_custom_command(OUTPUT ${out}
        COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_CURRENT_BINARY_DIR}/compressed
        COMMAND ${GZIP_PROGRAM} -9n -c ${CMAKE_CURRENT_SOURCE_DIR}/${pair} > ${out}
        DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${pair} VERBATIM)
    list(APPEND compressed ${out})
endforeach()
add_custom_target(compressed_docs ALL DEPENDS ${compressed})
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/compressed/synergy-tokend.8.gz
        DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/compressed/synergy-tokend.json.5.gz
        DESTINATION ${CMAKE_INSTALL_MANDIR}/man5)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/compressed/changelog.Debian.gz
              packaging/copyright
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
# lintian's overrides, each with its reason (packaging/lintian-overrides).
install(FILES packaging/lintian-overrides DESTINATION ${CMAKE_INSTALL_DATADIR}/lintian/overrides
        RENAME synergy-tokend)

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

set(SYNERGY_TOKEND_MAINTAINER "synergy-tokend maintainers <synergy-tokend@example.org>"
    CACHE STRING "Maintainer field of the Debian package (the project's address)")
set(CPACK_PACKAGE_NAME synergy-tokend)
set(CPACK_PACKAGE_VENDOR "synergy-tokend developers")
set(CPACK_PACKAGE_CONTACT "${SYNERGY_TOKEND_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
# The extended description, after the summary (CPack puts that first and indents the lines).
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "synergy-tokend holds the user identity token for the Synergy Sports Auth API,
obtains product tokens, refreshes each before its lifetime lapses and serves
them to local applications over 127.0.0.1:8731 and a Unix socket: one upstream
call per token lifetime whatever the number of callers, tokens kept serving
while the Auth API fails, per-profile access rules by caller uid and group.
.
It runs as a sandboxed systemd service (Type=notify, DynamicUser=) that this
package enables and starts; put the identity token in
/etc/synergy-tokend/identity-token.")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
# A Debian revision (not a native package: changelog.Debian.gz, packaging/changelog).
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# deb-systemd-helper and deb-systemd-invoke, used by the maintainer scripts.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "systemd, init-system-helpers (>= 1.52)")
# A stripped binary; its debug symbols split off into synergy-tokend-dbgsym_VERSION_ARCH.ddeb
# (CPack strips the binary itself when it splits them: CPACK_STRIP_FILES would leave none).
set(CPACK_DEBIAN_DEBUGINFO_PACKAGE ON)
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/debian/conffiles "${SYSCONF_DIR}/config.json\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_CURRENT_BINARY_DIR}/debian/conffiles
    ${CMAKE_CURRENT_SOURCE_DIR}/packaging/postinst
    ${CMAKE_CURRENT_SOURCE_DIR}/packaging/prerm
    ${CMAKE_CURRENT_SOURCE_DIR}/packaging/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_GENERATOR DEB)
include(CPack)
