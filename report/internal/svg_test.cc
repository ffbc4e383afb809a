// Tests of the SVG plotting kit.
#include "report/internal/svg.h"

#include <cmath>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fedrad::report_internal {
namespace {

using ::testing::DoubleNear;
using ::testing::ElementsAre;
using ::testing::Pointwise;
using ::testing::HasSubstr;
using ::testing::Not;

// An unlabelled linear axis from lo to hi.
Axis Linear(double lo, double hi) {
  Axis a;
  a.lo = lo;
  a.hi = hi;
  return a;
}

TEST(Escape, ReplacesEveryMarkupCharacter) {
  EXPECT_EQ(Escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
}

TEST(NiceTicks, AreRoundNumbersCoveringTheRange) {
  auto near = [](std::vector<double> v) { return Pointwise(DoubleNear(1e-12), v); };
  EXPECT_THAT(NiceTicks(0, 1), near({0, 0.2, 0.4, 0.6, 0.8, 1}));
  EXPECT_THAT(NiceTicks(0.53, 0.78), near({0.55, 0.6, 0.65, 0.7, 0.75}));
  EXPECT_THAT(NiceTicks(0, 2400), near({0, 500, 1000, 1500, 2000}));
  EXPECT_EQ(TickLabel(2000), "2000");
  EXPECT_EQ(TickLabel(0.65), "0.65");
}

TEST(LogTicks, FollowTheOneTwoFiveSeries) {
  EXPECT_THAT(LogTicks(0.6, 3), ElementsAre(1, 2));
  EXPECT_THAT(LogTicks(0.04, 1.5), ElementsAre(0.05, 0.1, 0.2, 0.5, 1));
}

TEST(SvgPlot, MapsDataToPixelsInsideTheFrame) {
  SvgPlot p(PlotFrame{400, 300, 50, 10, 20, 30}, Linear(0, 10), Linear(0, 1), "t");
  EXPECT_DOUBLE_EQ(p.X(0), 50);
  EXPECT_DOUBLE_EQ(p.X(10), 390);
  EXPECT_DOUBLE_EQ(p.Y(0), 270);
  EXPECT_DOUBLE_EQ(p.Y(1), 20);
  SvgPlot log(PlotFrame{400, 300, 50, 10, 20, 30}, Axis{0.1, 10, "", true}, Linear(0, 1), "l");
  EXPECT_DOUBLE_EQ(log.X(1), 220);
}

TEST(SvgPlot, StepCurvesGoAcrossThenDown) {
  SvgPlot p(PlotFrame{400, 300, 50, 10, 20, 30}, Linear(0, 10), Linear(0, 1), "km");
  p.Line({{0, 1}, {5, 0.5}}, "#000", 2, LineStyle::kSolid, true);
  const std::string svg = p.Render("km");
  EXPECT_THAT(svg, HasSubstr("M50.0 20.0 H220.0 V145.0"));
}

TEST(SvgPlot, EscapesLabelsTitlesAndTooltips) {
  SvgPlot p(PlotFrame{}, Axis{0, 1, "x<script>"}, Axis{0, 1, "y&"}, "id\"x");
  p.Title("<b>title</b>");
  p.Marker(0.5, 0.5, "#000", MarkerShape::kCircle, 3, true, "<img src=x>");
  p.CategoryLabels({"site<1>"});
  p.Legend({{"S\"1", "#123"}});
  const std::string svg = p.Render("desc<");
  EXPECT_THAT(svg, Not(HasSubstr("<script>")));
  EXPECT_THAT(svg, Not(HasSubstr("<b>")));
  EXPECT_THAT(svg, Not(HasSubstr("<img")));
  EXPECT_THAT(svg, HasSubstr("x&lt;script&gt;"));
  EXPECT_THAT(svg, HasSubstr("site&lt;1&gt;"));
  EXPECT_THAT(svg, HasSubstr("id&quot;x"));
}

TEST(SvgPlot, SkipsNonFinitePoints) {
  SvgPlot p(PlotFrame{}, Linear(0, 1), Linear(0, 1), "x");
  p.Marker(std::nan(""), 0.5, "#000");
  p.Line({{std::nan(""), 1}}, "#000");
  const std::string svg = p.Render("x");
  EXPECT_THAT(svg, Not(HasSubstr("nan")));
  EXPECT_THAT(svg, Not(HasSubstr("<circle")));
}

}  // namespace
}  // namespace fedrad::report_internal
