# Installation (cmake --install) and the Debian package (cpack -G DEB).
#
# Configure with -DCMAKE_INSTALL_PREFIX=/usr for a system install or a .deb: the units name the
# binary by its installed path, and configuration goes to /etc only with that prefix (with
# another prefix it goes to PREFIX/etc).
#
#   PREFIX/bin/spacesfs                          (installed by cli/)
#   PREFIX/sbin/mount.spacesfs -> ../bin/spacesfs  what mount(8) runs for type "spacesfs"
#                                                (/sbin/mount.spacesfs on Debian 12, /sbin -> usr/sbin)
#   PREFIX/lib/systemd/system/spacesfs@.service  PREFIX/lib/systemd/user/spacesfs@.service
#   PREFIX/share/man/man{5,8}/*.gz               PREFIX/share/doc/spacesfs/...
#   SYSCONFDIR/spacesfs/credentials.example (0600), mounts/, credentials.d/ (0700)
# /etc/spacesfs/credentials itself is never installed, so it is never overwritten.
include(GNUInstallDirs)

# Installing (and cpack) takes what is built and builds nothing: build the targets spacesfs and
# spacesfs_man first. Otherwise cpack would build every test of the tree it runs in.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY TRUE)

set(SPACESFS_SYSCONFDIR "${CMAKE_INSTALL_FULL_SYSCONFDIR}/spacesfs")
set(SPACESFS_DOCDIR "${CMAKE_INSTALL_DATADIR}/doc/spacesfs")
set(_pkg "${PROJECT_SOURCE_DIR}/packaging")
set(_out "${PROJECT_BINARY_DIR}/packaging")

# The units as written name /usr/bin/spacesfs; point them at the binary this prefix installs.
foreach(_unit system/spacesfs@.service user/spacesfs@.service)
  string(REPLACE "system/" "" _src "${_unit}")
  file(READ "${PROJECT_SOURCE_DIR}/systemd/${_src}" _text)
  string(REPLACE "/usr/bin/spacesfs" "${CMAKE_INSTALL_FULL_BINDIR}/spacesfs" _text "${_text}")
  file(CONFIGURE OUTPUT "${_out}/${_unit}" CONTENT "${_text}" @ONLY)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/systemd/${_src}")
endforeach()
install(FILES "${_out}/system/spacesfs@.service" DESTINATION lib/systemd/system)
install(FILES "${_out}/user/spacesfs@.service" DESTINATION lib/systemd/user)

if(TARGET spacesfs)
  file(RELATIVE_PATH _to_bin "${CMAKE_INSTALL_FULL_SBINDIR}" "${CMAKE_INSTALL_FULL_BINDIR}/spacesfs")
  file(CREATE_LINK "${_to_bin}" "${_out}/mount.spacesfs" SYMBOLIC)
  install(FILES "${_out}/mount.spacesfs" DESTINATION ${CMAKE_INSTALL_SBINDIR})
endif()

# Man pages, compressed at build time (gzip -n: no name or time stamp, reproducible).
set(_man_gz "")
foreach(_page man8/spacesfs.8 man8/mount.spacesfs.8 man5/spacesfs-credentials.5)
  set(_gz "${_out}/${_page}.gz")
  get_filename_component(_section_dir "${_page}" DIRECTORY)
  add_custom_command(OUTPUT "${_gz}"
                     COMMAND ${CMAKE_COMMAND} -E copy "${PROJECT_SOURCE_DIR}/man/${_page}"
                             "${_out}/${_page}"
                     COMMAND gzip -9 -n -f "${_out}/${_page}"
                     DEPENDS "${PROJECT_SOURCE_DIR}/man/${_page}" VERBATIM)
  list(APPEND _man_gz "${_gz}")
  install(FILES "${_gz}" DESTINATION "${CMAKE_INSTALL_MANDIR}/${_section_dir}")
endforeach()
add_custom_target(spacesfs_man ALL DEPENDS ${_man_gz})

install(FILES "${PROJECT_SOURCE_DIR}/docs/OPERATIONS.md" "${_pkg}/credentials.example"
        DESTINATION "${SPACESFS_DOCDIR}")
install(FILES "${PROJECT_SOURCE_DIR}/systemd/examples/mnt-photos.conf"
              "${PROJECT_SOURCE_DIR}/systemd/examples/mnt-photos.mount"
              "${PROJECT_SOURCE_DIR}/systemd/examples/mnt-photos.automount"
              "${PROJECT_SOURCE_DIR}/systemd/examples/fstab.example"
        DESTINATION "${SPACESFS_DOCDIR}/examples")

install(FILES "${_pkg}/credentials.example" DESTINATION "${SPACESFS_SYSCONFDIR}"
        PERMISSIONS OWNER_READ OWNER_WRITE)
install(DIRECTORY DESTINATION "${SPACESFS_SYSCONFDIR}/mounts")
install(DIRECTORY DESTINATION "${SPACESFS_SYSCONFDIR}/credentials.d"
        DIRECTORY_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE)

# --- cpack -G DEB: spacesfs_<version>_<arch>.deb ---
set(SPACESFS_DEB_MAINTAINER "spacesfs maintainers <maintainers@spacesfs.invalid>"
    CACHE STRING "Maintainer field of the Debian package")
file(CONFIGURE OUTPUT "${_out}/debian/conffiles"
     CONTENT "${SPACESFS_SYSCONFDIR}/credentials.example\n" @ONLY)
file(COPY "${_pkg}/debian/postinst" "${_pkg}/debian/postrm" DESTINATION "${_out}/debian"
     FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                      WORLD_READ WORLD_EXECUTE)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME spacesfs)
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGING_INSTALL_PREFIX "${CMAKE_INSTALL_PREFIX}")
set(CPACK_PACKAGE_CONTACT "${SPACESFS_DEB_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${SPACESFS_DEB_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "mount S3-compatible buckets with a scoped credential per mount")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "mount S3-compatible buckets with a scoped credential per mount\n"
    "spacesfs mounts a bucket (a DigitalOcean Space, a Ceph RADOS Gateway bucket or any\n"
    "S3-compatible bucket) as a directory through FUSE. Each mount uses a named credential\n"
    "profile whose grants limit the Spaces, key prefixes and operations it may use.\n"
    "Includes mount.spacesfs for /etc/fstab and systemd units for system and per-user mounts.")
string(REPLACE ";" "" CPACK_DEBIAN_PACKAGE_DESCRIPTION "${CPACK_DEBIAN_PACKAGE_DESCRIPTION}")
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# Library dependencies come from dpkg-shlibdeps (package dpkg-dev). Programs the package runs
# rather than links: fuse3 (fusermount3, mount.fuse3), procps (kill, for systemctl reload).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "fuse3, procps")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${_out}/debian/conffiles;${_out}/debian/postinst;${_out}/debian/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
set(CPACK_STRIP_FILES TRUE)
include(CPack)
