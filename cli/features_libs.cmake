# Sources and libraries the `extract` subcommand adds to the fedrad
# executable (included by cli/CMakeLists.txt).
if(TARGET fedrad::features AND TARGET fedrad::proto)
  target_sources(fedrad PRIVATE ${CMAKE_CURRENT_LIST_DIR}/features_settings.cc)
  target_link_libraries(fedrad PRIVATE fedrad::features fedrad::proto)
  fedrad_test(NAME features_settings_test
              SRCS ${CMAKE_CURRENT_LIST_DIR}/features_settings_test.cc
                   ${CMAKE_CURRENT_LIST_DIR}/features_settings.cc
              DEPS fedrad::features fedrad::proto fedrad::core)
endif()
