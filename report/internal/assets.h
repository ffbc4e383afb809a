// The report's inline stylesheet and its render-check script (the script
// fills #render-check with the size of every drawn plot, read by
// report/browser_test.sh). Private to report/.
#ifndef FEDRAD_REPORT_INTERNAL_ASSETS_H_
#define FEDRAD_REPORT_INTERNAL_ASSETS_H_

namespace fedrad::report_internal {

extern const char kCss[];
extern const char kRenderCheckScript[];

}  // namespace fedrad::report_internal

#endif  // FEDRAD_REPORT_INTERNAL_ASSETS_H_
