import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { SignedApi } from './lib/api.js';
import { BrowserIdentity } from './lib/identity.js';
import { fromBase64Url } from './lib/encoding.js';

/** Who is signed in, as the ledger knows them. */
export interface Profile {
  did: string;
  kind: 'patient' | 'staff' | 'admin' | 'proxy' | string;
  name: string;
  nameEn?: string;
  patientId?: string;
  institution?: string;
  roles: string[];
  /** Set when the person was chosen from the demo list. */
  demoHandle?: string;
}

export interface Session {
  profile: Profile;
  api: SignedApi;
  expiresAt: number;
}

/** Sessions end after 30 minutes; the key then leaves the tab and the person signs in again. */
export const SESSION_MS = 30 * 60 * 1000;
const STORAGE_KEY = 'medchain.session';

interface Stored {
  seed: string;
  profile: Profile;
  chain: string;
  expiresAt: number;
}

function restore(): Session | undefined {
  try {
    const stored = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? 'null') as Stored | null;
    if (!stored || stored.expiresAt <= Date.now()) return undefined;
    const identity = new BrowserIdentity(fromBase64Url(stored.seed));
    if (identity.did !== stored.profile.did) return undefined;
    return { profile: stored.profile, api: new SignedApi(identity, stored.chain), expiresAt: stored.expiresAt };
  } catch {
    return undefined;
  }
}

interface SessionContextValue {
  session: Session | undefined;
  expired: boolean;
  signIn(identity: BrowserIdentity, profile: Profile, chain: string): void;
  signOut(): void;
}

const SessionContext = createContext<SessionContextValue | undefined>(undefined);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [session, setSession] = useState<Session | undefined>(restore);
  const [expired, setExpired] = useState(false);

  const signOut = useCallback(() => {
    sessionStorage.removeItem(STORAGE_KEY);
    setSession(undefined);
  }, []);

  const signIn = useCallback((identity: BrowserIdentity, profile: Profile, chain: string) => {
    const expiresAt = Date.now() + SESSION_MS;
    // Kept in this tab's sessionStorage only (gone when the tab closes), so a reload does not sign one out.
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify({ seed: identity.exportSeed(), profile, chain, expiresAt } satisfies Stored));
    setExpired(false);
    setSession({ profile, api: new SignedApi(identity, chain), expiresAt });
  }, []);

  useEffect(() => {
    if (!session) return;
    const timer = setInterval(() => {
      if (Date.now() >= session.expiresAt) {
        signOut();
        setExpired(true);
      }
    }, 5_000);
    return () => clearInterval(timer);
  }, [session, signOut]);

  const value = useMemo(() => ({ session, expired, signIn, signOut }), [session, expired, signIn, signOut]);
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionContextValue {
  const ctx = useContext(SessionContext);
  if (!ctx) throw new Error('useSession outside SessionProvider');
  return ctx;
}

/** The signed-in session; pages under <RequireSession> may assume it exists. */
export function useSignedIn(): Session {
  const { session } = useSession();
  if (!session) throw new Error('not signed in');
  return session;
}
