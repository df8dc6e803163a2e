package cloudinit

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

// NewKeyPair makes a throw-away ed25519 SSH key pair for one build: the
// private key in OpenSSH PEM form (what ssh -i and the Packer communicator
// read) and the public key as an authorized_keys line.
func NewKeyPair() (privatePEM []byte, authorizedKey string, err error) {
	public, private, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, "", fmt.Errorf("generating an SSH key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(private, "packer-plugin-maas build key")
	if err != nil {
		return nil, "", fmt.Errorf("encoding the SSH private key: %w", err)
	}
	sshPublic, err := ssh.NewPublicKey(public)
	if err != nil {
		return nil, "", fmt.Errorf("encoding the SSH public key: %w", err)
	}
	return pem.EncodeToMemory(block), strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPublic))), nil
}
