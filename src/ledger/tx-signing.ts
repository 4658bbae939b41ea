/**
 * The tx signing domain, pure (no Node imports) so the web application signs txs with the same prefix the
 * ledger verifies: sig = Ed25519(TX_SIGNING_DOMAIN || JCS(envelope)).
 */
export const TX_SIGNING_DOMAIN = 'medchain/tx/v1\n';
