/** Drover's tiny test guest (Debian cloud kernel + busybox initramfs serving HTTP). */
export {
  BUSYBOX_PACKAGE,
  DEFAULT_GUEST_CACHE_DIR,
  GUEST_CMDLINE_BASE,
  GUEST_MODULES,
  GUEST_READY_MARKER,
  KERNEL_META_PACKAGE,
  ensureGuestImage,
  guestCmdline,
} from './guest-image.js';
export type { GuestImage, GuestNetwork } from './guest-image.js';
