// A small SVG plotting kit for the report: linear or log axes with "nice"
// ticks, step and polyline curves, markers, error bars, diamonds, reference
// lines, category (forest-plot) axes and legends. Every text is escaped.
//
//   SvgPlot p(PlotFrame{420, 300}, Axis{0, 1, "1 - specificity"},
//             Axis{0, 1, "sensitivity"});
//   p.Line({{0, 0}, {1, 1}}, "#999", 1, LineStyle::kDashed);
//   p.Line(points, Palette(0));
//   std::string svg = p.Render("ROC curve, site S1");
//
// Not thread safe (one plot per thread); the unique clip-path id comes from
// the caller (`id`), so the output is deterministic.
#ifndef FEDRAD_REPORT_INTERNAL_SVG_H_
#define FEDRAD_REPORT_INTERNAL_SVG_H_

#include <string>
#include <utility>
#include <vector>

namespace fedrad::report_internal {

// HTML/XML escaping of text and attribute values (& < > " ').
std::string Escape(const std::string& text);

// A colour-blind-safe palette (Okabe & Ito 2008), cycling.
std::string Palette(int i);

// Round-number ticks covering [lo, hi] (about `target` of them), as in
// Heckbert's "Nice numbers for graph labels" (Graphics Gems, 1990).
std::vector<double> NiceTicks(double lo, double hi, int target = 5);
// Ticks for a log axis: 1-2-5 series within [lo, hi] (lo > 0).
std::vector<double> LogTicks(double lo, double hi);
// A tick label: up to 3 significant digits, no trailing zeros.
std::string TickLabel(double v);

struct Axis {
  double lo = 0, hi = 1;
  std::string label;
  bool log = false;        // log scale (lo, hi > 0)
  bool ticks = true;       // numeric ticks and grid lines
};

struct PlotFrame {
  int width = 420, height = 300;
  int left = 56, right = 16, top = 28, bottom = 44;
};

enum class LineStyle { kSolid, kDashed, kDotted };
enum class MarkerShape { kCircle, kSquare, kDiamond, kTriangle };

class SvgPlot {
 public:
  SvgPlot(PlotFrame frame, Axis x, Axis y, std::string id);

  // Data -> pixel coordinates.
  double X(double v) const;
  double Y(double v) const;

  void Title(const std::string& title);
  // A polyline through `points` (data coordinates), clipped to the plot
  // area. `step`: a right-continuous step function (horizontal then vertical).
  void Line(const std::vector<std::pair<double, double>>& points, const std::string& color,
            double width = 1.8, LineStyle style = LineStyle::kSolid, bool step = false);
  void Marker(double x, double y, const std::string& color, MarkerShape shape = MarkerShape::kCircle,
              double radius = 3.5, bool filled = true, const std::string& tooltip = "");
  void HErrorBar(double y, double x_lo, double x_hi, const std::string& color, double width = 1.6);
  void VErrorBar(double x, double y_lo, double y_hi, const std::string& color, double width = 1.4);
  // A horizontal diamond (meta-analysis pooled estimate) of half-height `h` px.
  void Diamond(double y, double x_lo, double x_mid, double x_hi, const std::string& color,
               double h = 7);
  void VLine(double x, const std::string& color, LineStyle style = LineStyle::kDashed);
  void HLine(double y, const std::string& color, LineStyle style = LineStyle::kDashed);
  // Text at data coordinates (dx, dy pixel offsets); anchor start|middle|end.
  void Text(double x, double y, const std::string& text, const std::string& anchor = "start",
            int size = 11, double dx = 0, double dy = 0, const std::string& color = "#333");
  // Text in pixel coordinates.
  void PixelText(double px, double py, const std::string& text, const std::string& anchor,
                 int size = 11, const std::string& color = "#333", bool bold = false);
  // Category labels on the y axis: label i at data y = i + 1 (top to bottom
  // when the y axis runs from n + 0.5 down to 0.5).
  void CategoryLabels(const std::vector<std::string>& labels, const std::vector<bool>& bold = {});
  // A boxed legend in the top-right corner (bottom-right with `bottom`).
  void Legend(const std::vector<std::pair<std::string, std::string>>& label_color,
              bool bottom = false);

  // The <svg> element (role img, aria-label `description`).
  std::string Render(const std::string& description) const;

 private:
  static std::string Dash(LineStyle style);
  PlotFrame f_;
  Axis x_, y_;
  std::string id_;
  std::string title_;
  std::string body_;      // clipped data layer
  std::string overlay_;   // unclipped (labels, legend)
};

}  // namespace fedrad::report_internal

#endif  // FEDRAD_REPORT_INTERNAL_SVG_H_
