package detect

import "github.com/vigil-nids/vigil/models"

// newAlertShared is newAlertIn with the explanation already made into a
// []TopFeature (topFeatures) that the alerts of one feature vector share
// and nothing writes: a JSONLines sink then encodes it once (topCache).
func newAlertShared(box *alertBox, j *job, s Scores, th Thresholds, model string, top []TopFeature) *Alert {
	a := newAlertIn(box, j, s, th, model, nil)
	a.TopFeatures = top
	return a
}

// topFeatures returns a new slice of top's TopFeatures, as newAlert fills
// them (non-nil when empty).
func topFeatures(top []models.Contribution) []TopFeature {
	t := make([]TopFeature, len(top))
	for i, c := range top {
		t[i] = TopFeature{Name: c.Name, Value: Float(c.Value), Baseline: [2]Float{Float(c.Lo), Float(c.Hi)}, Share: Float(c.Share)}
	}
	return t
}
