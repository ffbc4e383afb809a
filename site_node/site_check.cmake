# `fedrad-site --check` (site_check.h): its own small library so that the
# daemon library does not need OpenSSL and the PKI. include()d at the end of
# site_node/CMakeLists.txt, after the fedrad-site executable is defined.
fedrad_library(NAME site_check
  SRCS ${CMAKE_CURRENT_LIST_DIR}/site_check.cc ${CMAKE_CURRENT_LIST_DIR}/site_check_local.cc
    ${CMAKE_CURRENT_LIST_DIR}/site_check_network.cc
  PUBLIC_DEPS fedrad::site
  PRIVATE_DEPS fedrad::pki fedrad::audit fedrad::transport fedrad::proto OpenSSL::SSL OpenSSL::Crypto
    absl::strings)
target_compile_definitions(fedrad_site_check PRIVATE FEDRAD_VERSION="${PROJECT_VERSION}")
target_link_libraries(fedrad-site PRIVATE fedrad::site_check)

fedrad_test(NAME site_check_test SRCS ${CMAKE_CURRENT_LIST_DIR}/site_check_test.cc
  DEPS fedrad::site_check fedrad::pki fedrad::core LABELS unit)
