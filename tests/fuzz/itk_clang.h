// Force-included (-include) in every file of a FEDRAD_FUZZ=ON build.
//
// Debian's ITK 5.2 ships an itk_compiler_detection.h generated for GCC only:
// under clang it stops with "#error Unsupported compiler". This reads it
// once, seen as GCC 12 (whose C++ feature answers clang 14 meets), before any
// ITK header does; its include guard then keeps ITK from reading it again.
// Nothing else changes: __clang__ and __GNUC__ are restored right after.
#if defined(__cplusplus) && defined(__clang__) && __has_include(<itk_compiler_detection.h>)
#pragma push_macro("__clang__")
#pragma push_macro("__GNUC__")
#pragma push_macro("__GNUC_MINOR__")
#undef __clang__
#undef __GNUC__
#undef __GNUC_MINOR__
#define __GNUC__ 12
#define __GNUC_MINOR__ 2
#include <itk_compiler_detection.h>
#pragma pop_macro("__GNUC_MINOR__")
#pragma pop_macro("__GNUC__")
#pragma pop_macro("__clang__")
#endif
