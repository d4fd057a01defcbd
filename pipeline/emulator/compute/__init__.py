"""Microsoft.Compute: scale sets and their instances, managed images, galleries."""
