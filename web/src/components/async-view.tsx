import { Alert, Button, Skeleton } from 'antd';
import type { ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { ApiError } from '../lib/api.js';
import type { AsyncState } from '../lib/use-async.js';

/** A person-readable message for any error: the API's code translated, its message as detail, never a stack. */
export function useErrorText(): (error: unknown) => { title: string; detail?: string } {
  const { t } = useTranslation();
  return (error) => {
    if (error instanceof ApiError) {
      const title = t(`errors.${error.code}`, { defaultValue: t('errors.generic') });
      return { title, detail: `${error.code}: ${error.message}` };
    }
    return { title: t('errors.generic') };
  };
}

export function ErrorAlert({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const { t } = useTranslation();
  const text = useErrorText()(error);
  return (
    <Alert
      type="error"
      showIcon
      role="alert"
      title={text.title}
      description={text.detail}
      action={onRetry ? <Button size="small" onClick={onRetry}>{t('common.retry')}</Button> : undefined}
    />
  );
}

/** Loading skeleton, error with retry, or the content. */
export function AsyncView<T>({ state, children, rows = 4 }: { state: AsyncState<T>; children: (data: T) => ReactNode; rows?: number }) {
  if (state.error) return <ErrorAlert error={state.error} onRetry={state.reload} />;
  if (state.loading && state.data === undefined) return <Skeleton active paragraph={{ rows }} />;
  return <>{children(state.data as T)}</>;
}
