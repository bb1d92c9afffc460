package evaluate

import (
	"bytes"
	"fmt"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Plot size; at the PNG default of 96 dpi this is 672×576 pixels.
const (
	plotWidth  = 7 * vg.Inch
	plotHeight = 6 * vg.Inch
)

// ROCPNG renders the ROC curves of every model (AUC in the legend) with the
// diagonal of a random scorer, as PNG.
func (r *Report) ROCPNG() ([]byte, error) {
	p := plot.New()
	p.Title.Text = "ROC"
	p.X.Label.Text = "false-positive rate (benign flows alerted)"
	p.Y.Label.Text = "true-positive rate (recall)"
	diag, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}})
	if err != nil {
		return nil, err
	}
	diag.Color = plotutil.DarkColors[6%len(plotutil.DarkColors)]
	diag.Dashes = []vg.Length{vg.Points(4), vg.Points(4)}
	p.Add(diag)
	p.Legend.Add("random", diag)
	for i, name := range r.ModelOrder {
		mr := r.Models[name]
		label := fmt.Sprintf("%s (AUC %s)", name, fmtNum(mr.ROCAUC, 4))
		if err := addCurve(p, r.curves[name].roc, i, label, false); err != nil {
			return nil, err
		}
	}
	return render(p, false)
}

// PRPNG renders the precision-recall curves of every model (average
// precision in the legend), drawn as steps as average precision integrates
// them.
func (r *Report) PRPNG() ([]byte, error) {
	p := plot.New()
	p.Title.Text = "Precision-recall"
	p.X.Label.Text = "recall"
	p.Y.Label.Text = "precision"
	for i, name := range r.ModelOrder {
		mr := r.Models[name]
		label := fmt.Sprintf("%s (AP %s)", name, fmtNum(mr.PRAUC, 4))
		if err := addCurve(p, r.curves[name].pr, i, label, true); err != nil {
			return nil, err
		}
	}
	return render(p, true)
}

func addCurve(p *plot.Plot, pts []point, i int, label string, step bool) error {
	xy := make(plotter.XYs, len(pts))
	for j, q := range pts {
		xy[j] = plotter.XY{X: q.x, Y: q.y}
	}
	if len(xy) < 2 {
		// Undefined curve (one class only): a legend entry, nothing drawn.
		xy = plotter.XYs{{X: 0, Y: 0}}
	}
	l, err := plotter.NewLine(xy)
	if err != nil {
		return fmt.Errorf("evaluate: plot %s: %w", label, err)
	}
	l.Color = plotutil.Color(i)
	l.Width = vg.Points(1.5)
	l.Dashes = plotutil.Dashes(i)
	if step {
		l.StepStyle = plotter.PreStep
	}
	if len(pts) >= 2 {
		p.Add(l)
	}
	p.Legend.Add(label, l)
	return nil
}

func render(p *plot.Plot, legendLeft bool) ([]byte, error) {
	p.X.Min, p.X.Max = 0, 1
	p.Y.Min, p.Y.Max = 0, 1.02
	p.Add(plotter.NewGrid())
	p.Legend.Top = false
	p.Legend.Left = legendLeft
	p.Legend.YOffs = vg.Points(8)
	p.Legend.XOffs = -vg.Points(8)
	if legendLeft {
		p.Legend.XOffs = vg.Points(8)
	}
	p.Legend.Padding = vg.Points(2)
	w, err := p.WriterTo(plotWidth, plotHeight, "png")
	if err != nil {
		return nil, fmt.Errorf("evaluate: plot: %w", err)
	}
	var b bytes.Buffer
	if _, err := w.WriteTo(&b); err != nil {
		return nil, fmt.Errorf("evaluate: plot: %w", err)
	}
	return b.Bytes(), nil
}
