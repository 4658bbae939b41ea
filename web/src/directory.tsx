import { createContext, useContext, useMemo, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { openApi } from './lib/api.js';
import { useAsync } from './lib/use-async.js';

import type { DemoPeople, Directory, Institution, StaffMember } from './directory-types.js';

export type { DemoPeople, Directory, Institution, StaffMember };

const DirectoryContext = createContext<{ directory: Directory | undefined; error: unknown; loading: boolean; reload(): void } | undefined>(undefined);

async function loadDirectory() {
  const [status, institutions, demo] = await Promise.all([
    openApi.get<{ chain: string; consortium: string }>('/v1/status'),
    openApi.query<Institution[]>('identity', 'institutions'),
    // Only a demo node has this route; elsewhere sign-in is by key file.
    openApi.get<DemoPeople>('/v1/demo/people').catch(() => undefined),
  ]);
  const staffLists = await Promise.all(institutions.map((i) => openApi.query<StaffMember[]>('identity', 'staffOf', { institution: i.id, limit: 500 })));
  return { status, institutions, staff: staffLists.flat(), demo };
}

export function DirectoryProvider({ children }: { children: ReactNode }) {
  const { i18n } = useTranslation();
  const state = useAsync(loadDirectory, []);
  const english = i18n.language.startsWith('en');
  const directory = useMemo<Directory | undefined>(() => {
    const d = state.data;
    if (!d) return undefined;
    const nameEn = new Map(d.demo?.institutions.map((i) => [i.id, i.nameEn]) ?? []);
    const institutions = d.institutions.map((i) => ({ ...i, ...(nameEn.has(i.id) ? { nameEn: nameEn.get(i.id)! } : {}) }));
    const byId = new Map(institutions.map((i) => [i.id, i]));
    const byDid = new Map(d.staff.map((s) => [s.did, s]));
    return {
      chain: d.status.chain,
      // The ledger names the consortium in Chinese; the demo also knows its English name.
      consortium: english && d.demo?.consortium.nameEn ? d.demo.consortium.nameEn : d.status.consortium,
      institutions,
      staff: d.staff,
      demo: d.demo,
      institutionName: (id) => {
        if (!id) return '—';
        const i = byId.get(id);
        return i ? (english && i.nameEn ? i.nameEn : i.name) : id;
      },
      personName: (did) => (did ? byDid.get(did)?.name : undefined),
    };
  }, [state.data, english]);
  return <DirectoryContext.Provider value={{ directory, error: state.error, loading: state.loading, reload: state.reload }}>{children}</DirectoryContext.Provider>;
}

export function useDirectoryState() {
  const ctx = useContext(DirectoryContext);
  if (!ctx) throw new Error('useDirectory outside DirectoryProvider');
  return ctx;
}

/** The directory; only used below the app shell, which waits for it to load. */
export function useDirectory(): Directory {
  const { directory } = useDirectoryState();
  if (!directory) throw new Error('directory not loaded');
  return directory;
}
