package relay

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"trellis-wg/internal/control"
)

// ConfigRequest is the JSON object of a TypeRelayConfig frame; an absent field keeps what is set.
type ConfigRequest struct {
	// PrivateKey is the relay node's WireGuard private key, base64 (as `wg` prints it). The relay
	// derives each served node's disco key from it; it is never logged or echoed.
	PrivateKey *string `json:"privateKey,omitempty"`
	// Pairs is the whole allow-list: pairs of base64 WireGuard public keys.
	Pairs *[][]string `json:"pairs,omitempty"`
	// Mesh is the relay's mesh: base64 public keys, every pair of which may use the relay.
	Mesh *[]string `json:"mesh,omitempty"`
	// NodeTTLMs is how long a node's address stays known after its last accepted ping.
	NodeTTLMs *int64 `json:"nodeTtlMs,omitempty"`
}

// ControlInfo is the JSON object of the relay's TypeInfo frame.
type ControlInfo struct {
	Protocol       int    `json:"protocol"`
	Implementation string `json:"implementation"`
	Version        string `json:"version"`
	Port           uint16 `json:"port"`
	Info
	WriteErrors uint64 `json:"writeErrors"`
}

// Control serves the relay's control socket: configuration in, info out.
type Control struct {
	relay   *Relay
	server  *Server
	version string
	sock    *control.Server
}

// ListenControl opens the relay's control socket at path.
func ListenControl(path string, r *Relay, s *Server, version string) (*Control, error) {
	c := &Control{relay: r, server: s, version: version}
	sock, err := control.Listen(path, c)
	if err != nil {
		return nil, err
	}
	c.sock = sock
	return c, nil
}

// Close removes the socket.
func (c *Control) Close() error { return c.sock.Close() }

func (c *Control) info(id uint32) []byte {
	ci := ControlInfo{Protocol: control.Protocol, Implementation: "trellis-wg relay", Version: c.version, Port: c.server.Port(), Info: c.relay.Snapshot(time.Now())}
	ci.WriteErrors = c.server.WriteErrors.Load()
	js, _ := json.Marshal(ci)
	return control.Info(id, js)
}

func (c *Control) Hello() []byte { return c.info(0) }

func (c *Control) Handle(body []byte) []byte {
	id, ok := control.RequestID(body)
	if !ok {
		return control.Result(0, control.StatusMalformed, "request cut short: a type byte and a 4-byte id come first")
	}
	switch body[0] {
	case control.TypeGetInfo:
		return c.info(id)
	case control.TypeRelayConfig:
		cfg, err := ParseConfigRequest(body[5:])
		if err != nil {
			return control.Result(id, control.StatusInvalidInput, "relay config: "+err.Error()+"; nothing changed")
		}
		if err := c.relay.Configure(cfg); err != nil {
			return control.Result(id, control.StatusInvalidInput, "relay config: "+err.Error()+"; nothing changed")
		}
		return control.Result(id, control.StatusOK, "")
	}
	return control.Result(id, control.StatusUnknownType, "unknown request type; a relay takes relay-config (0x10) and get-info (0x05)")
}

func parseKey(what, s string) (Key, error) {
	var k Key
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != 32 {
		return k, fmt.Errorf("%s is not a base64 WireGuard key (44 characters, 32 bytes)", what)
	}
	copy(k[:], b)
	return k, nil
}

// ParseConfigRequest reads and checks a TypeRelayConfig JSON object. Unknown fields are errors.
func ParseConfigRequest(js []byte) (Config, error) {
	// Field names are matched exactly (encoding/json alone would take "privatekey" too).
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(js, &fields); err != nil || fields == nil {
		return Config{}, errors.New("not a JSON object of privateKey, pairs, mesh and nodeTtlMs")
	}
	for name := range fields {
		if name != "privateKey" && name != "pairs" && name != "mesh" && name != "nodeTtlMs" {
			return Config{}, fmt.Errorf("unknown field %q; the fields are privateKey, pairs, mesh and nodeTtlMs", name)
		}
	}
	var req ConfigRequest
	if err := json.Unmarshal(js, &req); err != nil {
		return Config{}, fmt.Errorf("not a JSON object of privateKey, pairs, mesh and nodeTtlMs (%v)", err)
	}
	var cfg Config
	if req.PrivateKey != nil {
		k, err := parseKey("privateKey", *req.PrivateKey)
		if err != nil {
			return Config{}, err
		}
		cfg.PrivateKey = &k
	}
	if req.Pairs != nil {
		pairs := make([][2]Key, 0, len(*req.Pairs))
		for i, p := range *req.Pairs {
			if len(p) != 2 {
				return Config{}, fmt.Errorf("pairs[%d] has %d keys; a pair is two public keys", i, len(p))
			}
			a, err := parseKey(fmt.Sprintf("pairs[%d][0]", i), p[0])
			if err != nil {
				return Config{}, err
			}
			b, err := parseKey(fmt.Sprintf("pairs[%d][1]", i), p[1])
			if err != nil {
				return Config{}, err
			}
			pairs = append(pairs, [2]Key{a, b})
		}
		cfg.Pairs = &pairs
	}
	if req.Mesh != nil {
		mesh := make([]Key, 0, len(*req.Mesh))
		seen := map[Key]bool{}
		for i, s := range *req.Mesh {
			k, err := parseKey(fmt.Sprintf("mesh[%d]", i), s)
			if err != nil {
				return Config{}, err
			}
			if seen[k] {
				return Config{}, fmt.Errorf("mesh[%d] repeats key %s", i, s)
			}
			seen[k] = true
			mesh = append(mesh, k)
		}
		cfg.Mesh = &mesh
	}
	if req.NodeTTLMs != nil {
		if *req.NodeTTLMs < 1000 || *req.NodeTTLMs > 3_600_000 {
			return Config{}, fmt.Errorf("nodeTtlMs %d is outside 1000..3600000", *req.NodeTTLMs)
		}
		cfg.NodeTTL = time.Duration(*req.NodeTTLMs) * time.Millisecond
	}
	return cfg, nil
}
