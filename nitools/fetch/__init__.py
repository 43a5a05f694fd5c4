"""RouterOS by version: the mirror layout, one streaming downloader, the verified
package cache, and which packages each architecture gets."""
