/** Storage verbs of the host agent: file-based storage domains and their volumes. */
export * from './types.js';
export { FileStorageManager } from './file-storage-manager.js';
export type { FileStorageManagerOptions } from './file-storage-manager.js';
export { DNS1123_LABEL, UUID_PATTERN, checkAbsolutePath, checkConnection, checkName, checkUuid, sameConnection } from './names.js';
export { checkRelative, isInside, resolveChild, resolveExisting } from './safe-path.js';
export { DOM_MD, IMAGES, METADATA_FILE, METADATA_VERSION, PROBE_FILE, findFormatted, parseMetadata } from './layout.js';
export type { FormattedDomain } from './layout.js';
export { PROBE_TIMEOUT_MS, probeDomain } from './probe.js';
export { REGISTRY_FILE, loadRegistry, saveRegistry } from './registry.js';
export type { DomainRecord } from './registry.js';
export { attach, isAttached, nfsMountPoint } from './attach.js';
export type { AttachOptions } from './attach.js';
export { kernelFilesystems, mount, mountAt, nfsSupported, parseMountinfo, umount } from './mounts.js';
export type { MountEntry } from './mounts.js';
export { createImage, growImage, imageInfo, parseImageInfo } from './qemu-img.js';
export type { ImageFormat, ImageInfo } from './qemu-img.js';
export { writeFileAtomic } from './atomic-file.js';
