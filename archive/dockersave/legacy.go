package dockersave

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imgtool/imgtool/imageconfig"
)

// The structs below reproduce the JSON shape of Docker 20.10's legacy image
// types (field order, omitempty, types), because v1 IDs are hashes of their
// marshaled form: unknown config fields are dropped and known ones are
// re-serialized exactly as Docker 20.10 would.

// containerConfig is Docker 20.10's api/types/container.Config; imageconfig
// owns the exact struct (import and commit marshal it too).
type containerConfig = imageconfig.ContainerConfig

// v1Image is Docker 20.10's image.V1Image.
type v1Image struct {
	ID              string           `json:"id,omitempty"`
	Parent          string           `json:"parent,omitempty"`
	Comment         string           `json:"comment,omitempty"`
	Created         time.Time        `json:"created"`
	Container       string           `json:"container,omitempty"`
	ContainerConfig containerConfig  `json:"container_config,omitempty"`
	DockerVersion   string           `json:"docker_version,omitempty"`
	Author          string           `json:"author,omitempty"`
	Config          *containerConfig `json:"config,omitempty"`
	Architecture    string           `json:"architecture,omitempty"`
	Variant         string           `json:"variant,omitempty"`
	OS              string           `json:"os,omitempty"`
	Size            int64            `json:",omitempty"`
}

// imageJSON mirrors how Docker 20.10's image.Image embeds V1Image: its own
// "parent" field shadows V1Image.Parent, so a config's parent never reaches
// the V1Image.
type imageJSON struct {
	v1Image
	Parent string `json:"parent,omitempty"`
}

// v1ImageFromConfig decodes a config the way Docker reads img.V1Image.
func v1ImageFromConfig(config []byte) (v1Image, error) {
	var img imageJSON
	if err := json.Unmarshal(config, &img); err != nil {
		return v1Image{}, err
	}
	return img.v1Image, nil
}

// createV1ID is Docker's v1.CreateID: the sha256 of the V1Image JSON
// (without id) with "layer_id" and "parent" added, top-level keys sorted.
func createV1ID(img v1Image, chainID v1.Hash, parent string) (string, error) {
	img.ID = ""
	b, err := json.Marshal(img)
	if err != nil {
		return "", err
	}
	var m map[string]*json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return "", err
	}
	m["layer_id"] = rawString(chainID.String())
	if parent != "" {
		m["parent"] = rawString("sha256:" + parent)
	}
	out, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(out)
	return hex.EncodeToString(sum[:]), nil
}

func rawString(s string) *json.RawMessage {
	b, _ := json.Marshal(s)
	r := json.RawMessage(b)
	return &r
}

// legacyV1Layer is one <v1id>/ directory of a legacy save.
type legacyV1Layer struct {
	ID   string // hex
	JSON []byte // <v1id>/json content
}

// legacyV1Chain computes the v1 IDs and json files Docker 20.10's save
// writes for an image with the given config and diff IDs.
func legacyV1Chain(config []byte, diffIDs []v1.Hash) ([]legacyV1Layer, error) {
	top, err := v1ImageFromConfig(config)
	if err != nil {
		return nil, err
	}
	var out []legacyV1Layer
	parent := ""
	var chain v1.Hash
	for i, d := range diffIDs {
		img := v1Image{Created: time.Unix(0, 0).UTC()}
		if i == len(diffIDs)-1 {
			img = top
		}
		if i == 0 {
			chain = d
		} else {
			chain = chainOf(chain, d)
		}
		id, err := createV1ID(img, chain, parent)
		if err != nil {
			return nil, err
		}
		img.ID = id
		if parent != "" {
			img.Parent = parent
		}
		img.OS = top.OS
		b, err := json.Marshal(img)
		if err != nil {
			return nil, err
		}
		out = append(out, legacyV1Layer{ID: id, JSON: b})
		parent = id
	}
	return out, nil
}

func chainOf(parent, diffID v1.Hash) v1.Hash {
	sum := sha256.Sum256([]byte(parent.String() + " " + diffID.String()))
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}

// history20 is Docker 20.10's image.History.
type history20 struct {
	Created    time.Time `json:"created"`
	Author     string    `json:"author,omitempty"`
	CreatedBy  string    `json:"created_by,omitempty"`
	Comment    string    `json:"comment,omitempty"`
	EmptyLayer bool      `json:"empty_layer,omitempty"`
}

type rootFS20 struct {
	Type    string    `json:"type"`
	DiffIDs []v1.Hash `json:"diff_ids,omitempty"`
}

// historyFromV1 is Docker's HistoryFromConfig for a non-empty layer.
func historyFromV1(v1json []byte) (history20, error) {
	var img v1Image
	if err := json.Unmarshal(v1json, &img); err != nil {
		return history20{}, err
	}
	return history20{
		Author:    img.Author,
		Created:   img.Created,
		CreatedBy: strings.Join(img.ContainerConfig.Cmd, " "),
		Comment:   img.Comment,
	}, nil
}

// configFromV1 is Docker's MakeConfigFromV1Config: the v1 json with its
// v1-only keys removed and rootfs and history added, keys sorted. Images
// from Docker older than 1.8.3 (or with no docker_version) are first
// normalised through the V1Image struct.
func configFromV1(v1json []byte, diffIDs []v1.Hash, hist []history20) ([]byte, error) {
	var ver struct {
		DockerVersion string `json:"docker_version"`
	}
	if err := json.Unmarshal(v1json, &ver); err != nil {
		return nil, err
	}
	if versionLess(ver.DockerVersion, "1.8.3") {
		var img v1Image
		if err := json.Unmarshal(v1json, &img); err != nil {
			return nil, err
		}
		b, err := json.Marshal(img)
		if err != nil {
			return nil, err
		}
		v1json = b
	}
	var m map[string]*json.RawMessage
	if err := json.Unmarshal(v1json, &m); err != nil {
		return nil, err
	}
	for _, k := range []string{"id", "parent", "Size", "parent_id", "layer_id", "throwaway"} {
		delete(m, k)
	}
	rb, err := json.Marshal(rootFS20{Type: "layers", DiffIDs: diffIDs})
	if err != nil {
		return nil, err
	}
	hb, err := json.Marshal(hist)
	if err != nil {
		return nil, err
	}
	r, h := json.RawMessage(rb), json.RawMessage(hb)
	m["rootfs"], m["history"] = &r, &h
	return json.Marshal(m)
}

// versionLess compares dotted versions numerically, treating a
// non-numeric part as 0 (Docker's api/types/versions semantics).
func versionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	n := max(len(pa), len(pb))
	for i := 0; i < n; i++ {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}
