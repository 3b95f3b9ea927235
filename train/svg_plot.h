#pragma once
// A small hand-written SVG line chart, enough to plot a few experiment curves without a plotting
// library: evenly spaced categorical x values (e.g. labels per class: 10, 50, 200), a linear y
// axis with round-numbered ticks and grid lines, one coloured line with circle markers per
// series, a legend, a title and axis labels. The output is plain SVG 1.1 that browsers and
// image viewers open directly.
//
// The markup is regular so that it can be checked without an XML parser: the plot area is a
// <rect class="plot-area">, every data point a <circle class="marker">, every legend entry a
// <text class="legend">.
#include <optional>
#include <string>
#include <vector>

namespace graft::train {

struct ChartSeries {
  std::string name;        // shown in the legend
  std::vector<double> y;   // one value per x category; NaN leaves a gap
};

struct LineChart {
  std::string title, x_label, y_label;
  std::vector<std::string> x_categories;
  std::vector<ChartSeries> series;
  // The y axis range; by default it covers the data, widened to round tick values.
  std::optional<double> y_min, y_max;
  int width = 760, height = 440;  // pixels
};

// The chart as an SVG document. Errors: no categories, no series, a series whose length differs
// from the number of categories, a series without any finite value, an empty or inverted y range,
// or a size too small to draw in.
std::string render_svg(const LineChart& chart);

}  // namespace graft::train
