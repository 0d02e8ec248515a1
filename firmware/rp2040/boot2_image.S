/*
 * boot2_image.S — puts boot2.bin (256 bytes: boot2.S assembled, padded to 252 bytes, and the
 * CRC-32 the boot ROM checks) at the very start of flash, in the .boot2 section the linker
 * script places at 0x10000000. boot2.bin is written by src/firmware-image/boot2.ts (buildBoot2).
 */
    .section .boot2, "ax"
    .global __boot2_image
__boot2_image:
    .incbin "boot2.bin"
    .size __boot2_image, . - __boot2_image
