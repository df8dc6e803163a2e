// Package maasupload is the maas-upload post-processor: it uploads a MAAS image
// file (from maas-rootfs, maas-export or any file) to MAAS as a custom boot
// resource. The upload itself lives in internal/maas; this is Packer glue.
package maasupload

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/hashicorp/hcl/v2/hcldec"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/c34478be/packer-plugin-maas/internal/maas"
	"github.com/c34478be/packer-plugin-maas/internal/maasartifact"
	"github.com/c34478be/packer-plugin-maas/internal/packerui"
)

// PostProcessor uploads an image to MAAS.
type PostProcessor struct {
	config Config
}

// ConfigSpec returns the HCL2 spec of the settings.
func (p *PostProcessor) ConfigSpec() hcldec.ObjectSpec { return p.config.FlatMapstructure().HCL2Spec() }

// Configure decodes and validates the settings, so that `packer validate`
// reports every mistake MAAS would reject.
func (p *PostProcessor) Configure(raws ...interface{}) error {
	return p.config.prepare(raws...)
}

// PostProcess uploads the incoming artifact's file.
func (p *PostProcessor) PostProcess(ctx context.Context, ui packersdk.Ui, in packersdk.Artifact) (packersdk.Artifact, bool, bool, error) {
	req, err := p.request(in)
	if err != nil {
		return nil, false, false, err
	}
	client, err := p.client(ui)
	if err != nil {
		return nil, false, false, err
	}
	defer client.Close()

	ui.Say(fmt.Sprintf("Uploading %s to MAAS at %s as %s (%s, %s)", req.Path, p.host(), req.Name, req.Architecture, req.Filetype))
	bar := packerui.NewProgress(ui, req.Name, req.Size)
	req.Progress = bar.Add
	result, err := client.Upload(ctx, req)
	bar.Close()
	if err != nil {
		return nil, false, false, fmt.Errorf("maas-upload: %w", err)
	}
	// The client computed them if the incoming artifact had none.
	req.SHA256, req.Size = result.SHA256, result.Size
	if result.AlreadyPresent {
		ui.Say(fmt.Sprintf("Already in MAAS as boot resource %d (%s, %s), version %s, sha256 %s: nothing was uploaded",
			result.Resource.ID, req.Name, req.Architecture, result.Version, req.SHA256))
	}
	res, version := result.Resource, result.Version
	if p.config.WaitComplete {
		ui.Say(fmt.Sprintf("Waiting (at most %s) for MAAS to report the image complete on every region controller...", p.config.WaitTimeout))
		waitCtx, cancel := context.WithTimeout(ctx, p.config.WaitTimeout)
		res, version, err = client.WaitComplete(waitCtx, res.ID, req.SHA256, func(s maas.WaitStatus) {
			ui.Say("MAAS: " + s.String())
		})
		cancel()
		if err != nil {
			return nil, false, false, fmt.Errorf("maas-upload: uploaded as boot resource %d, but %w (wait_timeout is %s)", result.Resource.ID, err, p.config.WaitTimeout)
		}
	}
	artifact := &Artifact{
		MAASURL: p.config.MAASURL, ResourceID: res.ID, Name: req.Name, Architecture: req.Architecture,
		Filetype: string(req.Filetype), BaseImage: req.BaseImage, Version: version, SHA256: req.SHA256, Size: req.Size,
	}
	ui.Say(fmt.Sprintf("Uploaded: MAAS boot resource %d, %s (%s), sha256 %s", res.ID, req.Name, req.Architecture, req.SHA256))
	ui.Say("Deploy it with: " + deployCommand(req.Name))
	return artifact, true, false, nil
}

func (p *PostProcessor) client(ui packersdk.Ui) (*maas.Client, error) {
	tlsConfig, err := p.config.tlsConfig()
	if err != nil {
		return nil, err
	}
	return maas.NewClient(maas.Options{
		URL: p.config.MAASURL, APIKey: p.config.APIKey,
		URLSetting: p.config.urlSetting, APIKeySetting: p.config.keySetting,
		Username: p.config.Username, Password: p.config.Password,
		TLSConfig: tlsConfig, RequestTimeout: p.config.Timeout, Attempts: p.config.Attempts,
		Logf: func(format string, args ...any) { ui.Say(fmt.Sprintf(format, args...)) },
	})
}

func (p *PostProcessor) host() string {
	u, err := url.Parse(p.config.MAASURL)
	if err != nil {
		return p.config.MAASURL
	}
	return u.Host
}

// deployCommand is the MAAS CLI call that deploys the image.
func deployCommand(name string) string {
	osName, series, ok := strings.Cut(name, "/")
	if !ok {
		osName, series = "custom", name
	}
	return fmt.Sprintf("maas $PROFILE machine deploy $SYSTEM_ID osystem=%s distro_series=%s", osName, series)
}

// request assembles the upload from the settings and the incoming
// artifact: settings win, then what the producer recorded, then defaults.
func (p *PostProcessor) request(in packersdk.Artifact) (maas.UploadRequest, error) {
	c := p.config
	made := maasartifact.FromState(in)
	req := maas.UploadRequest{
		Name: c.ImageName, Title: c.Title, ChunkSize: c.ChunkSize, KeepOld: c.KeepOld,
		Architecture: firstOf(maasartifact.Architecture(c.Architecture, made.Architecture), "amd64/generic"),
		BaseImage:    firstOf(c.BaseImage, made.BaseImage),
		Filetype:     maas.Filetype(firstOf(c.Filetype, string(made.Filetype))),
	}
	path, fromState, err := imagePath(c.ImagePath, made.Path, in)
	if err != nil {
		return req, err
	}
	req.Path = path
	if fromState { // the producer's digest describes its own file only
		req.SHA256 = made.SHA256
		req.Size = made.Size
		if req.Size == 0 {
			req.SHA256 = ""
		}
	}
	if req.Filetype == "" {
		return req, fmt.Errorf("maas-upload: the incoming artifact (%s) does not say which MAAS filetype %s is: set filetype (tgz, ddgz, ...)", in.BuilderId(), path)
	}
	for _, check := range []error{
		maas.ValidateArchitecture(req.Architecture), maas.ValidateFiletype(req.Filetype),
	} {
		if check != nil {
			return req, fmt.Errorf("maas-upload: from the incoming artifact: %w", check)
		}
	}
	if req.BaseImage != "" {
		if err := maas.ValidateBaseImage(req.BaseImage); err != nil {
			return req, fmt.Errorf("maas-upload: from the incoming artifact: %w", err)
		}
	}
	return req, nil
}

// imagePath picks the file: image_path, else the producer's maas.path,
// else the artifact's only file. fromState says the artifact's recorded
// sha256 and size describe it.
func imagePath(setting, statePath string, in packersdk.Artifact) (path string, fromState bool, err error) {
	switch files := in.Files(); {
	case setting != "":
		return setting, setting == statePath, nil
	case statePath != "":
		return statePath, true, nil
	case len(files) == 1:
		return files[0], false, nil
	case len(files) == 0:
		return "", false, fmt.Errorf("maas-upload: the incoming artifact (%s) has no file to upload: set image_path", in.BuilderId())
	default:
		return "", false, fmt.Errorf("maas-upload: the incoming artifact (%s) has %d files (%s): set image_path to the one to upload",
			in.BuilderId(), len(files), strings.Join(files, ", "))
	}
}

func firstOf(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
