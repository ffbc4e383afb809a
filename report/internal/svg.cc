#include "report/internal/svg.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace fedrad::report_internal {
namespace {

std::string N(double v) { return absl::StrFormat("%.1f", v); }

double NiceNumber(double range, bool round) {
  const double exponent = std::floor(std::log10(range));
  const double fraction = range / std::pow(10.0, exponent);
  double nice;
  if (round) {
    nice = fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10;
  } else {
    nice = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10;
  }
  return nice * std::pow(10.0, exponent);
}

}  // namespace

std::string Escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string Palette(int i) {
  static const char* kColors[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                  "#E69F00", "#56B4E9", "#000000", "#F0E442"};
  return kColors[((i % 8) + 8) % 8];
}

std::vector<double> NiceTicks(double lo, double hi, int target) {
  if (!(hi > lo) || !std::isfinite(lo) || !std::isfinite(hi)) return {lo};
  const double step = NiceNumber((hi - lo) / std::max(1, target - 1), true);
  std::vector<double> ticks;
  const double first = std::ceil(lo / step - 1e-9);
  for (int i = 0;; ++i) {
    const double t = (first + i) * step;
    if (t > hi + step * 1e-9) break;
    ticks.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
  }
  return ticks;
}

std::vector<double> LogTicks(double lo, double hi) {
  std::vector<double> ticks;
  if (!(lo > 0) || !(hi > lo)) return ticks;
  for (int e = static_cast<int>(std::floor(std::log10(lo))); e <= std::ceil(std::log10(hi)); ++e) {
    for (double m : {1.0, 2.0, 5.0}) {
      const double t = m * std::pow(10.0, e);
      if (t >= lo * (1 - 1e-9) && t <= hi * (1 + 1e-9)) ticks.push_back(t);
    }
  }
  if (ticks.size() > 9) {  // keep the decades only
    std::vector<double> decades;
    for (double t : ticks) {
      const double l = std::log10(t);
      if (std::abs(l - std::round(l)) < 1e-9) decades.push_back(t);
    }
    ticks = decades;
  }
  return ticks;
}

std::string TickLabel(double v) {
  if (v == 0) return "0";
  if (std::abs(v) >= 1000 && std::abs(v) < 1e7 && v == std::round(v)) {
    return absl::StrFormat("%.0f", v);
  }
  return absl::StrFormat("%.3g", v);
}

SvgPlot::SvgPlot(PlotFrame frame, Axis x, Axis y, std::string id)
    : f_(frame), x_(std::move(x)), y_(std::move(y)), id_(std::move(id)) {
  if (x_.log) {
    x_.lo = std::max(x_.lo, 1e-12);
    x_.hi = std::max(x_.hi, x_.lo * 1.0001);
  }
  if (!(x_.hi > x_.lo)) x_.hi = x_.lo + 1;
  if (!(y_.hi != y_.lo)) y_.hi = y_.lo + 1;
}

double SvgPlot::X(double v) const {
  const double w = f_.width - f_.left - f_.right;
  if (x_.log) {
    return f_.left + w * (std::log(std::max(v, 1e-300)) - std::log(x_.lo)) /
                         (std::log(x_.hi) - std::log(x_.lo));
  }
  return f_.left + w * (v - x_.lo) / (x_.hi - x_.lo);
}

double SvgPlot::Y(double v) const {
  const double h = f_.height - f_.top - f_.bottom;
  if (y_.log) {
    return f_.top + h - h * (std::log(std::max(v, 1e-300)) - std::log(y_.lo)) /
                            (std::log(y_.hi) - std::log(y_.lo));
  }
  return f_.top + h - h * (v - y_.lo) / (y_.hi - y_.lo);
}

std::string SvgPlot::Dash(LineStyle style) {
  switch (style) {
    case LineStyle::kDashed: return " stroke-dasharray=\"6 4\"";
    case LineStyle::kDotted: return " stroke-dasharray=\"2 3\"";
    default: return "";
  }
}

void SvgPlot::Title(const std::string& title) { title_ = title; }

void SvgPlot::Line(const std::vector<std::pair<double, double>>& points, const std::string& color,
                   double width, LineStyle style, bool step) {
  std::string d;
  bool pen_down = false;
  double prev_y = 0;
  for (const auto& [x, y] : points) {
    if (!std::isfinite(x) || !std::isfinite(y)) {
      pen_down = false;
      continue;
    }
    if (!pen_down) {
      absl::StrAppend(&d, "M", N(X(x)), " ", N(Y(y)));
      pen_down = true;
    } else if (step) {
      absl::StrAppend(&d, " H", N(X(x)), " V", N(Y(y)));
    } else {
      absl::StrAppend(&d, " L", N(X(x)), " ", N(Y(y)));
    }
    prev_y = y;
  }
  (void)prev_y;
  if (d.empty()) return;
  absl::StrAppend(&body_, "<path d=\"", d, "\" fill=\"none\" stroke=\"", Escape(color),
                  "\" stroke-width=\"", width, "\"", Dash(style), "/>\n");
}

void SvgPlot::Marker(double x, double y, const std::string& color, MarkerShape shape,
                     double r, bool filled, const std::string& tooltip) {
  if (!std::isfinite(x) || !std::isfinite(y)) return;
  const double px = X(x), py = Y(y);
  const std::string paint = filled ? absl::StrCat("fill=\"", Escape(color), "\"")
                                   : absl::StrCat("fill=\"#fff\" stroke=\"", Escape(color),
                                                  "\" stroke-width=\"1.5\"");
  std::string shape_svg;
  switch (shape) {
    case MarkerShape::kSquare:
      shape_svg = absl::StrCat("<rect x=\"", N(px - r), "\" y=\"", N(py - r), "\" width=\"",
                               N(2 * r), "\" height=\"", N(2 * r), "\" ", paint);
      break;
    case MarkerShape::kDiamond:
      shape_svg = absl::StrCat("<path d=\"M", N(px), " ", N(py - r * 1.3), " L", N(px + r * 1.3),
                               " ", N(py), " L", N(px), " ", N(py + r * 1.3), " L",
                               N(px - r * 1.3), " ", N(py), " Z\" ", paint);
      break;
    case MarkerShape::kTriangle:
      shape_svg = absl::StrCat("<path d=\"M", N(px), " ", N(py - r * 1.2), " L", N(px + r * 1.1),
                               " ", N(py + r * 0.9), " L", N(px - r * 1.1), " ", N(py + r * 0.9),
                               " Z\" ", paint);
      break;
    default:
      shape_svg = absl::StrCat("<circle cx=\"", N(px), "\" cy=\"", N(py), "\" r=\"", N(r), "\" ",
                               paint);
  }
  if (tooltip.empty()) {
    absl::StrAppend(&body_, shape_svg, "/>\n");
  } else {
    absl::StrAppend(&body_, shape_svg, "><title>", Escape(tooltip), "</title></",
                    shape == MarkerShape::kCircle ? "circle" : shape == MarkerShape::kSquare ? "rect" : "path",
                    ">\n");
  }
}

void SvgPlot::HErrorBar(double y, double x_lo, double x_hi, const std::string& color, double width) {
  if (!std::isfinite(y) || !std::isfinite(x_lo) || !std::isfinite(x_hi)) return;
  const double py = Y(y);
  absl::StrAppend(&body_, "<path d=\"M", N(X(x_lo)), " ", N(py), " H", N(X(x_hi)), " M",
                  N(X(x_lo)), " ", N(py - 4), " V", N(py + 4), " M", N(X(x_hi)), " ", N(py - 4),
                  " V", N(py + 4), "\" stroke=\"", Escape(color), "\" stroke-width=\"", width,
                  "\" fill=\"none\"/>\n");
}

void SvgPlot::VErrorBar(double x, double y_lo, double y_hi, const std::string& color, double width) {
  if (!std::isfinite(x) || !std::isfinite(y_lo) || !std::isfinite(y_hi)) return;
  const double px = X(x);
  absl::StrAppend(&body_, "<path d=\"M", N(px), " ", N(Y(y_lo)), " V", N(Y(y_hi)), " M",
                  N(px - 3), " ", N(Y(y_lo)), " H", N(px + 3), " M", N(px - 3), " ", N(Y(y_hi)),
                  " H", N(px + 3), "\" stroke=\"", Escape(color), "\" stroke-width=\"", width,
                  "\" fill=\"none\"/>\n");
}

void SvgPlot::Diamond(double y, double x_lo, double x_mid, double x_hi, const std::string& color,
                      double h) {
  if (!std::isfinite(y) || !std::isfinite(x_lo) || !std::isfinite(x_mid) || !std::isfinite(x_hi)) {
    return;
  }
  const double py = Y(y);
  absl::StrAppend(&body_, "<path d=\"M", N(X(x_lo)), " ", N(py), " L", N(X(x_mid)), " ",
                  N(py - h), " L", N(X(x_hi)), " ", N(py), " L", N(X(x_mid)), " ", N(py + h),
                  " Z\" fill=\"", Escape(color), "\" stroke=\"", Escape(color), "\"/>\n");
}

void SvgPlot::VLine(double x, const std::string& color, LineStyle style) {
  if (!std::isfinite(x)) return;
  absl::StrAppend(&body_, "<path d=\"M", N(X(x)), " ", f_.top, " V", f_.height - f_.bottom,
                  "\" stroke=\"", Escape(color), "\" stroke-width=\"1\"", Dash(style), "/>\n");
}

void SvgPlot::HLine(double y, const std::string& color, LineStyle style) {
  if (!std::isfinite(y)) return;
  absl::StrAppend(&body_, "<path d=\"M", f_.left, " ", N(Y(y)), " H", f_.width - f_.right,
                  "\" stroke=\"", Escape(color), "\" stroke-width=\"1\"", Dash(style), "/>\n");
}

void SvgPlot::Text(double x, double y, const std::string& text, const std::string& anchor, int size,
                   double dx, double dy, const std::string& color) {
  if (!std::isfinite(x) || !std::isfinite(y)) return;
  PixelText(X(x) + dx, Y(y) + dy, text, anchor, size, color);
}

void SvgPlot::PixelText(double px, double py, const std::string& text, const std::string& anchor,
                        int size, const std::string& color, bool bold) {
  absl::StrAppend(&overlay_, "<text x=\"", N(px), "\" y=\"", N(py), "\" text-anchor=\"",
                  Escape(anchor), "\" font-size=\"", size, "\" fill=\"", Escape(color), "\"",
                  bold ? " font-weight=\"bold\"" : "", ">", Escape(text), "</text>\n");
}

void SvgPlot::CategoryLabels(const std::vector<std::string>& labels, const std::vector<bool>& bold) {
  for (size_t i = 0; i < labels.size(); ++i) {
    PixelText(f_.left - 8, Y(static_cast<double>(i + 1)) + 4, labels[i], "end", 11, "#222",
              i < bold.size() && bold[i]);
  }
}

void SvgPlot::Legend(const std::vector<std::pair<std::string, std::string>>& label_color,
                     bool bottom) {
  if (label_color.empty()) return;
  size_t longest = 0;
  for (const auto& entry : label_color) longest = std::max(longest, entry.first.size());
  const double w = 22 + 6.2 * static_cast<double>(longest);
  const double h = 6 + 15.0 * static_cast<double>(label_color.size());
  const double x = f_.width - f_.right - w - 6;
  const double y = bottom ? f_.height - f_.bottom - h - 6 : f_.top + 6;
  absl::StrAppend(&overlay_, "<rect x=\"", N(x), "\" y=\"", N(y), "\" width=\"", N(w),
                  "\" height=\"", N(h), "\" fill=\"#fff\" fill-opacity=\"0.85\" stroke=\"#ccc\"/>\n");
  for (size_t i = 0; i < label_color.size(); ++i) {
    const double py = y + 14 + 15.0 * static_cast<double>(i);
    absl::StrAppend(&overlay_, "<rect x=\"", N(x + 6), "\" y=\"", N(py - 9), "\" width=\"10\" height=\"10\" fill=\"",
                    Escape(label_color[i].second), "\"/>\n");
    PixelText(x + 20, py, label_color[i].first, "start", 11);
  }
}

std::string SvgPlot::Render(const std::string& description) const {
  const int x0 = f_.left, x1 = f_.width - f_.right, y0 = f_.top, y1 = f_.height - f_.bottom;
  std::string s = absl::StrCat(
      "<svg class=\"plot\" width=\"", f_.width,
      "\" height=\"", f_.height, "\" viewBox=\"0 0 ", f_.width, " ", f_.height,
      "\" role=\"img\" aria-label=\"", Escape(description), "\" data-plot-id=\"", Escape(id_),
      "\">\n<title>", Escape(description), "</title>\n<defs><clipPath id=\"clip-", Escape(id_),
      "\"><rect x=\"", x0, "\" y=\"", y0 - 2, "\" width=\"", x1 - x0, "\" height=\"", y1 - y0 + 4,
      "\"/></clipPath></defs>\n<rect x=\"", x0, "\" y=\"", y0, "\" width=\"", x1 - x0,
      "\" height=\"", y1 - y0, "\" fill=\"#fbfbfb\" stroke=\"#bbb\"/>\n");
  // Grid and ticks.
  if (x_.ticks) {
    for (double t : x_.log ? LogTicks(x_.lo, x_.hi) : NiceTicks(x_.lo, x_.hi)) {
      const double px = X(t);
      absl::StrAppend(&s, "<path d=\"M", N(px), " ", y0, " V", y1, "\" stroke=\"#e6e6e6\"/>",
                      "<path d=\"M", N(px), " ", y1, " v4\" stroke=\"#666\"/>", "<text x=\"",
                      N(px), "\" y=\"", y1 + 15, "\" text-anchor=\"middle\" font-size=\"10\" fill=\"#444\">",
                      Escape(TickLabel(t)), "</text>\n");
    }
  }
  if (y_.ticks) {
    const double lo = std::min(y_.lo, y_.hi), hi = std::max(y_.lo, y_.hi);
    for (double t : y_.log ? LogTicks(lo, hi) : NiceTicks(lo, hi)) {
      const double py = Y(t);
      absl::StrAppend(&s, "<path d=\"M", x0, " ", N(py), " H", x1, "\" stroke=\"#e6e6e6\"/>",
                      "<path d=\"M", x0 - 4, " ", N(py), " h4\" stroke=\"#666\"/>", "<text x=\"",
                      x0 - 7, "\" y=\"", N(py + 3.5), "\" text-anchor=\"end\" font-size=\"10\" fill=\"#444\">",
                      Escape(TickLabel(t)), "</text>\n");
    }
  }
  absl::StrAppend(&s, "<g clip-path=\"url(#clip-", Escape(id_), ")\">\n", body_, "</g>\n", overlay_);
  if (!x_.label.empty()) {
    absl::StrAppend(&s, "<text x=\"", (x0 + x1) / 2, "\" y=\"", f_.height - 8,
                    "\" text-anchor=\"middle\" font-size=\"11\" fill=\"#222\">", Escape(x_.label),
                    "</text>\n");
  }
  if (!y_.label.empty()) {
    absl::StrAppend(&s, "<text transform=\"translate(13,", (y0 + y1) / 2,
                    ") rotate(-90)\" text-anchor=\"middle\" font-size=\"11\" fill=\"#222\">",
                    Escape(y_.label), "</text>\n");
  }
  if (!title_.empty()) {
    absl::StrAppend(&s, "<text x=\"", x0, "\" y=\"14\" font-size=\"12\" font-weight=\"bold\" fill=\"#111\">",
                    Escape(title_), "</text>\n");
  }
  absl::StrAppend(&s, "</svg>");
  return s;
}

}  // namespace fedrad::report_internal
