package sdk

import "encoding/json"

// wireEvent is the shape of tap's event JSON.
type wireEvent struct {
	Type   string `json:"type"`
	Record *struct {
		Live       bool            `json:"live"`
		DID        string          `json:"did"`
		Rev        string          `json:"rev"`
		Collection string          `json:"collection"`
		RKey       string          `json:"rkey"`
		Action     string          `json:"action"`
		Record     json.RawMessage `json:"record"`
		CID        string          `json:"cid"`
	} `json:"record"`
	Identity *struct {
		DID      string `json:"did"`
		Handle   string `json:"handle"`
		IsActive bool   `json:"is_active"`
		Status   string `json:"status"`
	} `json:"identity"`
}

// decodeJSON fills the fields of ev that come from ev.JSON. ID, DID and
// Live are sent beside the JSON and kept; a JSON that does not decode
// leaves the other fields empty (JSON is always there).
func decodeJSON(ev *Event) {
	var w wireEvent
	if json.Unmarshal(ev.JSON, &w) != nil {
		return
	}
	ev.Type = w.Type
	if r := w.Record; r != nil {
		ev.Collection, ev.RKey, ev.Action, ev.Rev, ev.CID = r.Collection, r.RKey, r.Action, r.Rev, r.CID
		ev.Record = r.Record
	}
	if id := w.Identity; id != nil {
		ev.Handle, ev.Status, ev.IsActive = id.Handle, id.Status, id.IsActive
	}
}
