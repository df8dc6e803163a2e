package maasrootfs

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/packer-plugin-sdk/multistep"
	"github.com/hashicorp/packer-plugin-sdk/multistep/commonsteps"
)

// stepDownloadImage is the SDK's download step, whose checksum error names
// neither setting: a mismatch is then reported as image_checksum's.
//
// Uses its StepDownload fields; produces the image (getImagePath) and
// its URL (getSourceURL).
type stepDownloadImage struct {
	commonsteps.StepDownload
}

func (s *stepDownloadImage) Run(ctx context.Context, state multistep.StateBag) multistep.StepAction {
	action := s.StepDownload.Run(ctx, state)
	if err := getError(state); err != nil && action == multistep.ActionHalt && isChecksumMismatch(err) {
		getUI(state).Error(checksumMismatchHint)
		putError(state, fmt.Errorf("%s: %w", checksumMismatchHint, err))
	}
	return action
}

const checksumMismatchHint = "image_checksum does not match the image: check image_checksum against image_url " +
	"(a mirror's \"current\" image may be newer than the checksum you wrote down)"

func isChecksumMismatch(err error) bool {
	return strings.Contains(err.Error(), "Checksums did not match")
}
