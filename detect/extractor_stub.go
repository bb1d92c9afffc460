package detect

import "github.com/vigil-nids/vigil/features"

// defaultExtractor is replaced by the features adapter once features lands.
func (c *Config) defaultExtractor() NewExtractorFunc {
	return func(emit func(*features.Record)) Extractor { panic("detect: no default extractor yet") }
}
