/**
 * Text from a stream of tokens, for output. run.c prints each decoded piece on its own and
 * `safe_printf` drops a piece that is a single unprintable byte, so a character that the tokenizer
 * had to spell as byte tokens (an emoji with tok512.bin, say) never appears. This decoder instead
 * joins the bytes of all pieces into one UTF-8 stream: a multi-byte character split across tokens
 * is held back until its last byte arrives, and only bytes that cannot form a character become
 * U+FFFD.
 */

/** Anything that turns (previous token, token) into the token's bytes: the Tokenizer. */
export interface PieceDecoder {
  decode(prevToken: number, token: number): Uint8Array;
}

/**
 * Text for a stream of tokens, one token at a time (`push`); holds an incomplete UTF-8 character back
 * until its last byte or `flush`. Keeps state: one decoder per stream.
 */
export class StreamingDecoder {
  // ignoreBOM: a U+FEFF at the start is text the user wrote, not a marker to drop
  private readonly utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

  constructor(private readonly tokenizer: PieceDecoder) {}

  /** The text completed by `token` (which followed `prevToken`); may be empty. */
  push(prevToken: number, token: number): string {
    return this.utf8.decode(this.tokenizer.decode(prevToken, token), { stream: true });
  }

  /** What is still held back at the end of the stream; an incomplete character becomes U+FFFD. */
  flush(): string {
    return this.utf8.decode();
  }
}
