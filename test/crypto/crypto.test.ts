import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  decryptIdentity,
  didKeyFromPublicKey,
  ed25519FromSeed,
  ed25519Sign,
  ed25519Verify,
  encryptIdentity,
  generateIdentity,
  KeyFileError,
  publicKeyFromDidKey,
  sha256Hex,
  x25519FromPrivate,
  x25519SharedSecret,
} from '../../src/crypto/index.js';

const hex = (s: string) => Buffer.from(s, 'hex');

describe('Ed25519 (RFC 8032 section 7.1 test vectors)', () => {
  const vectors = [
    {
      name: 'TEST 1',
      secret: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
      public: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
      message: '',
      signature:
        'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
    },
    {
      name: 'TEST 2',
      secret: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
      public: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
      message: '72',
      signature:
        '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
    },
    {
      name: 'TEST 3',
      secret: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
      public: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
      message: 'af82',
      signature:
        '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
    },
  ];
  for (const v of vectors) {
    it(`${v.name}: derives the public key, signs and verifies`, () => {
      expect(ed25519FromSeed(hex(v.secret)).publicKey.toString('hex')).toBe(v.public);
      expect(ed25519Sign(hex(v.secret), hex(v.message)).toString('hex')).toBe(v.signature);
      expect(ed25519Verify(hex(v.public), hex(v.message), hex(v.signature))).toBe(true);
    });
    it(`${v.name}: rejects a flipped bit in message or signature`, () => {
      const sig = hex(v.signature);
      sig[5] ^= 1;
      expect(ed25519Verify(hex(v.public), hex(v.message), sig)).toBe(false);
      expect(ed25519Verify(hex(v.public), Buffer.concat([hex(v.message), Buffer.of(0)]), hex(v.signature))).toBe(false);
    });
  }
  it('returns false for malformed keys and signatures instead of throwing', () => {
    expect(ed25519Verify(Buffer.alloc(31), Buffer.alloc(0), Buffer.alloc(64))).toBe(false);
    expect(ed25519Verify(Buffer.alloc(32), Buffer.alloc(0), Buffer.alloc(63))).toBe(false);
  });
});

describe('X25519 (RFC 7748 section 6.1)', () => {
  const alicePriv = '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a';
  const alicePub = '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a';
  const bobPriv = '5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb';
  const bobPub = 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f';
  const shared = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';
  it('derives public keys and the shared secret', () => {
    expect(x25519FromPrivate(hex(alicePriv)).publicKey.toString('hex')).toBe(alicePub);
    expect(x25519FromPrivate(hex(bobPriv)).publicKey.toString('hex')).toBe(bobPub);
    expect(x25519SharedSecret(hex(alicePriv), hex(bobPub)).toString('hex')).toBe(shared);
    expect(x25519SharedSecret(hex(bobPriv), hex(alicePub)).toString('hex')).toBe(shared);
  });
});

describe('SHA-256', () => {
  it('matches the FIPS 180-2 "abc" vector', () => {
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('gives OpenSSL\'s digest whether hashed in one call or streamed, in one part or several, views included', () => {
    const openssl = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
    // Around the one-call limit (64 KiB) and at the sizes the ledger hashes most (33 and 65 bytes: Merkle nodes).
    for (const size of [0, 1, 33, 55, 56, 64, 65, 1000, 65_535, 65_536, 65_537, 200_000]) {
      const bytes = randomBytes(size);
      expect(sha256Hex(bytes), `size ${size}`).toBe(openssl(bytes));
      expect(sha256Hex(bytes.subarray(0, size >> 1), bytes.subarray(size >> 1)), `size ${size} in two parts`).toBe(openssl(bytes));
      const view = new Uint8Array(bytes.buffer, bytes.byteOffset + (size >> 2), size - (size >> 2));
      expect(sha256Hex(view), `view of size ${view.length}`).toBe(openssl(view));
    }
    expect(sha256Hex('医链')).toBe(openssl(Buffer.from('医链', 'utf8')));
  });
});

describe('canonical JSON (RFC 8785)', () => {
  it('serializes the section 3.2.2 example', () => {
    const input = JSON.parse(
      '{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],' +
        '"string":"\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/","literals":[null,true,false]}',
    );
    expect(canonicalJson(input)).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],' +
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });
  it('sorts keys by UTF-16 code units (section 3.2.3 example)', () => {
    const input = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis',
    };
    expect(canonicalJson(input)).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","ö":"Latin Small Letter O With Diaeresis",' +
        '"€":"Euro Sign","😀":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
  });
  it('serializes IEEE-754 numbers as in Appendix B', () => {
    const cases: Array<[string, string]> = [
      ['0000000000000000', '0'],
      ['8000000000000000', '0'],
      ['0000000000000001', '5e-324'],
      ['8000000000000001', '-5e-324'],
      ['7fefffffffffffff', '1.7976931348623157e+308'],
      ['ffefffffffffffff', '-1.7976931348623157e+308'],
      ['4340000000000000', '9007199254740992'],
      ['c340000000000000', '-9007199254740992'],
      ['4430000000000000', '295147905179352830000'],
      ['44b52d02c7e14af5', '9.999999999999997e+22'],
      ['44b52d02c7e14af6', '1e+23'],
      ['44b52d02c7e14af7', '1.0000000000000001e+23'],
      ['444b1ae4d6e2ef4e', '999999999999999700000'],
      ['444b1ae4d6e2ef4f', '999999999999999900000'],
      ['444b1ae4d6e2ef50', '1e+21'],
      ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
      ['3eb0c6f7a0b5ed8d', '0.000001'],
      ['41b3de4355555553', '333333333.3333332'],
      ['41b3de4355555554', '333333333.33333325'],
      ['41b3de4355555555', '333333333.3333333'],
      ['41b3de4355555556', '333333333.3333334'],
      ['41b3de4355555557', '333333333.33333343'],
      ['becbf647612f3696', '-0.0000033333333333333333'],
      ['43143ff3c1cb0959', '1424953923781206.2'],
    ];
    for (const [bits, expected] of cases) {
      expect(canonicalJson(Buffer.from(bits, 'hex').readDoubleBE(0)), bits).toBe(expected);
    }
  });
  it('refuses NaN and Infinity', () => {
    expect(() => canonicalJson(Number.NaN)).toThrow();
    expect(() => canonicalJson(Number.POSITIVE_INFINITY)).toThrow();
  });
});

describe('did:key', () => {
  it('encodes the RFC 8032 TEST 1 key with the ed25519-pub multicodec and round-trips', () => {
    const pub = hex('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
    const did = didKeyFromPublicKey(pub);
    expect(did.startsWith('did:key:z6Mk')).toBe(true);
    expect(publicKeyFromDidKey(did)).toEqual({ type: 'Ed25519', publicKey: pub });
  });
  it('X25519 keys start with z6LS', () => {
    expect(didKeyFromPublicKey(Buffer.alloc(32, 9), 'X25519').startsWith('did:key:z6LS')).toBe(true);
  });
  it('rejects malformed identifiers', () => {
    expect(() => publicKeyFromDidKey('did:web:example.org')).toThrow(TypeError);
    expect(() => publicKeyFromDidKey('did:key:z0OIl')).toThrow(TypeError);
    expect(() => publicKeyFromDidKey('did:key:z6Mk')).toThrow(TypeError);
  });
});

describe('key files', () => {
  const fastKdf = { N: 1 << 10, r: 8, p: 1 };
  it('round-trips an identity under its passphrase', async () => {
    const id = generateIdentity('dr-wang');
    const file = await encryptIdentity(id, 'correct horse 医链', fastKdf);
    expect(JSON.stringify(file)).not.toContain(id.signing.seed.toString('base64url'));
    const back = await decryptIdentity(file, 'correct horse 医链');
    expect(back.did).toBe(id.did);
    expect(back.signing.seed.equals(id.signing.seed)).toBe(true);
    expect(back.agreement.privateKey.equals(id.agreement.privateKey)).toBe(true);
  });
  it('refuses a wrong passphrase and a swapped public header', async () => {
    const id = generateIdentity();
    const file = await encryptIdentity(id, 'pass-one', fastKdf);
    await expect(decryptIdentity(file, 'pass-two')).rejects.toMatchObject({ code: 'KEY_FILE_PASSPHRASE' });
    const other = generateIdentity();
    await expect(decryptIdentity({ ...file, did: other.did }, 'pass-one')).rejects.toBeInstanceOf(KeyFileError);
  });
});
