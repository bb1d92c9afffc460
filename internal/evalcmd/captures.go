package evalcmd

import (
	"github.com/vigil-nids/vigil/evaluate"
	"github.com/vigil-nids/vigil/internal/cli"
	"github.com/vigil-nids/vigil/models/bundle"
)

func scoreCaptures(o Options, b *bundle.Bundle, e *Env) (*evaluate.Input, error) {
	return nil, cli.Usagef("evaluating captures is not wired yet")
}
