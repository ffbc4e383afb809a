# Sources and libraries the `extract` subcommand adds to the fedrad
# executable (included by cli/CMakeLists.txt). features_settings.cc (settings
# text proto -> extraction options) is shared with the site's features.extract
# task through fedrad::feature_settings (defined in site_node/CMakeLists.txt);
# without the site module it is compiled in here.
if(TARGET fedrad::feature_settings)
  target_link_libraries(fedrad PRIVATE fedrad::feature_settings)
  fedrad_test(NAME features_settings_test
              SRCS ${CMAKE_CURRENT_LIST_DIR}/features_settings_test.cc
              DEPS fedrad::feature_settings)
elseif(TARGET fedrad::features AND TARGET fedrad::proto)
  target_sources(fedrad PRIVATE ${CMAKE_CURRENT_LIST_DIR}/features_settings.cc)
  target_link_libraries(fedrad PRIVATE fedrad::features fedrad::proto)
  fedrad_test(NAME features_settings_test
              SRCS ${CMAKE_CURRENT_LIST_DIR}/features_settings_test.cc
                   ${CMAKE_CURRENT_LIST_DIR}/features_settings.cc
              DEPS fedrad::features fedrad::proto fedrad::core)
endif()
