import { useTranslation } from 'react-i18next';

/** Dates and times in the interface language (not the browser's), in China Standard Time like the records. */
export function useFormat() {
  const { i18n } = useTranslation();
  const locale = i18n.language.startsWith('en') ? 'en-GB' : 'zh-CN';
  const zone = { timeZone: 'Asia/Shanghai' } as const;
  return {
    dateTime: (t: number | string) => new Date(t).toLocaleString(locale, { ...zone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' }),
    date: (t: number | string) => new Date(t).toLocaleDateString(locale, { ...zone, year: 'numeric', month: '2-digit', day: '2-digit' }),
    time: (t: number | string) => new Date(t).toLocaleTimeString(locale, { ...zone, hour: '2-digit', minute: '2-digit', second: '2-digit' }),
  };
}
