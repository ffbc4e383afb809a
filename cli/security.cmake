# The security helper's end-to-end test of `fedrad pki` and `fedrad audit`
# (included by cli/CMakeLists.txt, after the fedrad target exists). The
# subcommands themselves are cli/cmd_pki.cc and cli/cmd_audit.cc, linked with
# fedrad::pki and fedrad::audit by cli/CMakeLists.txt.
if(TARGET fedrad::pki AND TARGET fedrad::audit)
  fedrad_test(NAME cli_security_test
              SRCS ${CMAKE_CURRENT_LIST_DIR}/security_cli_test.cc
              DEPS fedrad::audit fedrad::pki fedrad::core
              LABELS integration)
  if(TARGET cli_security_test)
    add_dependencies(cli_security_test fedrad)
  endif()
endif()
