package maasexport

// BuilderID identifies artifacts made by maas-export (a
// maasartifact.Artifact).
const BuilderID = "c34478be.maas.export"
