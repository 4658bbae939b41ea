// The ES-module build (the CommonJS one's default export arrives wrapped in an object).
import ReactEChartsCore from 'echarts-for-react/esm/core';
import { BarChart, LineChart, PieChart } from 'echarts/charts';
import { GridComponent, LegendComponent, TooltipComponent } from 'echarts/components';
import * as echarts from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';
import type { EChartsOption } from 'echarts';

// Only the chart types the dashboard draws (tree-shaken ECharts keeps the regulator chunk small).
echarts.use([BarChart, LineChart, PieChart, GridComponent, LegendComponent, TooltipComponent, CanvasRenderer]);

// No red in the palette: red means an emergency or a danger, and is set explicitly where it does.
export const PALETTE = ['#0f766e', '#2563eb', '#d97706', '#7c3aed', '#0891b2', '#65a30d', '#db2777', '#64748b'];

export function Chart({ option, height = 260, label }: { option: EChartsOption; height?: number; label: string }) {
  return (
    <div role="img" aria-label={label}>
      <ReactEChartsCore echarts={echarts} option={{ color: PALETTE, ...option }} style={{ height }} notMerge />
    </div>
  );
}
