// Package registrytest reads an artifact's HCP Packer registry images the
// way Packer core does, through the SDK's real plugin RPC.
package registrytest

import (
	"net"
	"testing"

	"github.com/hashicorp/packer-plugin-sdk/packer"
	registryimage "github.com/hashicorp/packer-plugin-sdk/packer/registry/image"
	"github.com/hashicorp/packer-plugin-sdk/rpc"
	"github.com/mitchellh/mapstructure"
)

// Images serves a over the SDK's plugin RPC, as a plugin process does, and
// decodes its registry state on the other side as Packer core's HCP code
// does: msgpack across the connection, then mapstructure into a slice of
// images with weak typing (one image becomes a slice of one). It fails
// the test when the artifact records no image or one Packer cannot decode.
func Images(t testing.TB, a packer.Artifact) []registryimage.Image {
	t.Helper()
	state := overRPC(t, a).State(registryimage.ArtifactStateURI)
	if state == nil {
		t.Fatalf("registrytest: %s answers no %s state: HCP Packer would record nothing", a.BuilderId(), registryimage.ArtifactStateURI)
	}
	var images []registryimage.Image
	decoder, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{Result: &images, WeaklyTypedInput: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := decoder.Decode(state); err != nil {
		t.Fatalf("registrytest: Packer could not decode %s's registry state %#v: %v", a.BuilderId(), state, err)
	}
	return images
}

// overRPC returns a's client side across an in-memory plugin connection.
func overRPC(t testing.TB, a packer.Artifact) packer.Artifact {
	t.Helper()
	pluginEnd, coreEnd := net.Pipe()
	server, err := rpc.NewServer(pluginEnd)
	if err != nil {
		t.Fatal(err)
	}
	if err := server.RegisterArtifact(a); err != nil {
		t.Fatal(err)
	}
	go server.Serve()
	client, err := rpc.NewClient(coreEnd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = client.Close()
		_ = server.Close()
	})
	return client.Artifact()
}
