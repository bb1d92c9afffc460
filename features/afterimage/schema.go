package afterimage

import (
	"fmt"

	"github.com/vigil-nids/vigil/features"
)

// SchemaVersion is bumped whenever a feature changes meaning.
const SchemaVersion = 1

// Schema returns the packet schema: Kitsune's 115 AfterImage features,
// named as in the N-BaIoT data set (Meidan, Mirsky et al. 2018), grouped
// by stream then by λ (L5, L3, L1, L0.1, L0.01):
//
//	MI_dir_Lλ_{weight,mean,variance}        source MAC + IP, packet sizes
//	H_Lλ_{weight,mean,variance}             source IP, packet sizes
//	HH_Lλ_{weight,mean,std,magnitude,radius,covariance,pcc}
//	                                        channel src IP → dst IP, sizes
//	HH_jit_Lλ_{weight,mean,variance}        channel, inter-arrival times
//	HpHp_Lλ_{weight,mean,std,magnitude,radius,covariance,pcc}
//	                                        socket src IP:port → dst IP:port
func Schema() *features.Schema {
	s := &features.Schema{Name: "packet", Version: SchemaVersion, Features: make([]features.Feature, 0, NumFeatures)}
	add := func(name, unit, desc string, count bool) {
		s.Features = append(s.Features, features.Feature{Name: name, Unit: unit, Description: desc, Count: count})
	}
	half := func(i int) string { return fmt.Sprintf("λ=%g: weight halves every %gs", Lambdas[i], 1/Lambdas[i]) }
	oneD := func(prefix, what, unit, unit2 string) {
		for i, l := range lambdaNames {
			add(prefix+l+"_weight", "packets", fmt.Sprintf("decayed packet count of %s (%s)", what, half(i)), true)
			add(prefix+l+"_mean", unit, fmt.Sprintf("decayed mean of %s (%s)", what, half(i)), true)
			add(prefix+l+"_variance", unit2, fmt.Sprintf("decayed variance of %s (%s)", what, half(i)), true)
		}
	}
	twoD := func(prefix, what string) {
		for i, l := range lambdaNames {
			h := half(i)
			add(prefix+l+"_weight", "packets", fmt.Sprintf("decayed packet count of %s (%s)", what, h), true)
			add(prefix+l+"_mean", "bytes", fmt.Sprintf("decayed mean packet size of %s (%s)", what, h), true)
			add(prefix+l+"_std", "bytes", fmt.Sprintf("decayed standard deviation of packet sizes of %s (%s)", what, h), true)
			add(prefix+l+"_magnitude", "bytes", fmt.Sprintf("sqrt of the sum of both directions' squared mean sizes, %s (%s)", what, h), true)
			add(prefix+l+"_radius", "bytes^2", fmt.Sprintf("sqrt of the sum of both directions' squared size variances, %s (%s)", what, h), true)
			add(prefix+l+"_covariance", "bytes^2", fmt.Sprintf("approximate covariance of the sizes of both directions (decayed residual products), %s (%s)", what, h), false)
			add(prefix+l+"_pcc", "1", fmt.Sprintf("covariance over the product of both directions' standard deviations (0 if either is 0), %s (%s)", what, h), false)
		}
	}
	oneD("MI_dir_", "the packet sizes sent by the source MAC and IP address pair", "bytes", "bytes^2")
	oneD("H_", "the packet sizes sent by the source IP address", "bytes", "bytes^2")
	twoD("HH_", "the channel source IP → destination IP")
	oneD("HH_jit_", "the inter-arrival times on the channel source IP → destination IP", "s", "s^2")
	twoD("HpHp_", "the socket pair source IP:port → destination IP:port (and protocol)")
	return s
}
