package maasrootfs

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
	"github.com/hashicorp/packer-plugin-sdk/multistep/commonsteps"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
)

// stepDownloadImage is the SDK's download step, whose checksum error names
// neither setting: a mismatch is then reported as image_checksum's.
type stepDownloadImage struct {
	commonsteps.StepDownload
}

func (s *stepDownloadImage) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	action := s.StepDownload.Run(ctx, state)
	if err, ok := state.Get("error").(error); ok && action == multistep.ActionHalt && isChecksumMismatch(err) {
		state.Get("ui").(packersdk.Ui).Error(checksumMismatchHint)
		state.Put("error", fmt.Errorf("%s: %w", checksumMismatchHint, err))
	}
	return action
}

const checksumMismatchHint = "image_checksum does not match the image: check image_checksum against image_url " +
	"(a mirror's \"current\" image may be newer than the checksum you wrote down)"

func isChecksumMismatch(err error) bool {
	return strings.Contains(err.Error(), "Checksums did not match")
}
